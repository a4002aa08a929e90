#!/usr/bin/python3
"""Asks the X server about the app's top-level window, or closes it the way a window manager's
close button does (a WM_DELETE_WINDOW client message, which the app may refuse).
  x11.py state TITLE   prints "viewable", "unmapped" or "missing"
  x11.py close TITLE   sends WM_DELETE_WINDOW to the window titled TITLE"""
import sys

from Xlib import X, display, protocol


def windows(d, title):
    stack = [d.screen().root]
    while stack:
        w = stack.pop()
        try:
            if w.get_wm_name() == title:
                yield w
            stack.extend(w.query_tree().children)
        except Exception:
            continue


def main():
    action, title = sys.argv[1], sys.argv[2]
    d = display.Display()
    found = list(windows(d, title))
    if action == "state":
        if not found:
            print("missing")
        else:
            viewable = any(w.get_attributes().map_state == X.IsViewable for w in found)
            print("viewable" if viewable else "unmapped")
        return 0
    if action == "close":
        protocols = d.intern_atom("WM_PROTOCOLS")
        delete = d.intern_atom("WM_DELETE_WINDOW")
        for w in found:
            event = protocol.event.ClientMessage(window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
            w.send_event(event)
        d.flush()
        d.sync()
        print(f"sent WM_DELETE_WINDOW to {len(found)} window(s)")
        return 0 if found else 1
    return 2


sys.exit(main())

#!/usr/bin/env python3
"""Reads a Windows registry file (regedit 5.00 text: a header, `; comments`, `[KEY]` lines and
`"name"="value"` string values with `\\` and `\"` escapes, as regedit writes and reads them)
and prints {key: {name: value}} as JSON. Refuses anything else, so a malformed export fails.

  parse_reg.py FILE
"""
import json
import re
import sys

VALUE = re.compile(r'^"((?:[^"\\]|\\.)*)"="((?:[^"\\]|\\.)*)"$')


def unescape(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1]
            if nxt not in '\\"':
                raise ValueError(f"bad escape \\{nxt}")
            out.append(nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main():
    raw = open(sys.argv[1], "rb").read()
    text = raw.decode("utf-16") if raw.startswith(b"\xff\xfe") else raw.decode("ascii")
    lines = text.split("\r\n")
    if lines[0] != "Windows Registry Editor Version 5.00":
        raise SystemExit(f"not a regedit 5.00 file: {lines[0]!r}")
    keys, key = {}, None
    for line in lines[1:]:
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            key = line[1:-1]
            keys.setdefault(key, {})
            continue
        m = VALUE.match(line)
        if not m or key is None:
            raise SystemExit(f"cannot read line {line!r}")
        keys[key][unescape(m.group(1))] = unescape(m.group(2))
    json.dump(keys, sys.stdout)


if __name__ == "__main__":
    main()

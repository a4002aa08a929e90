// Pieces more than one page shows: an event's one-line details and a table of attributes.

import type { EventItem } from "./api";
import { h } from "./dom";
import { money } from "./logic/format";

/** An event's tool, model, decision, status, error, cost and duration, on one line. */
export function details(e: EventItem): string {
  const parts: string[] = [];
  for (const v of [e.tool_name, e.model, e.decision, e.status_code, e.error]) {
    if (v !== undefined && v !== null && v !== "") parts.push(String(v));
  }
  if (e.cost_usd !== null) parts.push(money(e.cost_usd));
  if (e.duration_ms !== null) parts.push(`${e.duration_ms} ms`);
  return parts.join(" · ");
}

/** Attributes as a two-column table, keys sorted; values that are not text shown as JSON. */
export function attributeTable(title: string, values: Record<string, unknown>): HTMLElement {
  const body = h("tbody");
  for (const key of Object.keys(values).sort()) {
    const v = values[key];
    body.append(h("tr", {}, h("th", {}, key), h("td", {}, typeof v === "string" ? v : JSON.stringify(v))));
  }
  return h("table", { class: "attributes" }, h("caption", {}, title), body);
}

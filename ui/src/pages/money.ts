// The overview's "where the money went" panel: the range's cost split by who asked (main loop,
// subagents, auxiliary), subagent, skill, MCP server and tool, plugin and effort, each as
// ranked bars; splits with nothing attributed fold into one line.

import { getJson } from "../api";
import { append, h, styled } from "../dom";
import { bars, sortSplits, SPLITS } from "../logic/attribution";
import { money } from "../logic/format";
import type { Attribution } from "../generated/api";

export async function moneyPanel(filter: URLSearchParams): Promise<HTMLElement> {
  const section = h("section", { class: "money", id: "money", "aria-labelledby": "money-title" });
  const q = new URLSearchParams(filter);
  for (const spec of SPLITS) q.append("key", spec.key);
  let doc: Attribution;
  try {
    doc = await getJson<Attribution>("/api/attribution", q);
  } catch (error) {
    append(section, h("h3", { id: "money-title" }, "Where the money went"),
      h("p", { class: "error" }, error instanceof Error ? error.message : String(error)));
    return section;
  }
  if (doc.total_usd === 0) {
    section.hidden = true;
    return section;
  }
  const { shown, empty } = sortSplits(doc);
  append(section, h("h3", { id: "money-title" }, "Where the money went ", h("span", { class: "hint" }, money(doc.total_usd))));
  const grid = h("div", { class: "money-grid" });
  for (const { spec, split } of shown) {
    const list = h("ol", { class: "money-bars" });
    for (const bar of bars(spec, split)) {
      const pct = `${(bar.share * 100).toFixed(1)}%`;
      list.append(h("li", { class: bar.value === null ? "rest" : "", "data-value": bar.value ?? "", title: `${bar.label}: ${money(bar.cost)} (${pct})` },
        h("span", { class: "money-label" }, bar.label),
        h("span", { class: "money-track" }, styled(h("span", { class: "money-fill" }), { width: pct })),
        h("span", { class: "money-cost" }, money(bar.cost)),
        h("span", { class: "money-share" }, pct)));
    }
    grid.append(h("div", { class: "money-split", "data-key": spec.key }, h("h4", {}, spec.title), list));
  }
  section.append(grid);
  if (empty.length > 0) section.append(h("p", { class: "hint money-empty" }, `Nothing attributed in this range to: ${empty.join(", ")}.`));
  return section;
}

// The overview's latency panel: each tool's run time with the developer's permission wait
// apart (waits need traces on), and the range's slowest prompts with where their time went,
// each a link to its waterfall.

import { getJson } from "../api";
import { append, h, styled } from "../dom";
import { count, localTime, shortId } from "../logic/format";
import { ms } from "../logic/waterfall";
import type { LatencyView, SlowPromptDoc } from "../generated/api";

function splitBar(p: SlowPromptDoc): HTMLElement {
  const t = p.time_ms;
  const total = t.model + t.tools + t.waiting_for_user + t.other;
  const bar = h("span", { class: "split-bar mini", title: `model ${ms(t.model)} · tools ${ms(t.tools)} · waiting for you ${ms(t.waiting_for_user)} · other ${ms(t.other)}` });
  if (total > 0) {
    for (const [key, value] of [["model", t.model], ["tools", t.tools], ["waiting_for_user", t.waiting_for_user], ["other", t.other]] as const) {
      if (value > 0) bar.append(styled(h("span", { class: `part part-${key}` }), { width: `${((value / total) * 100).toFixed(2)}%` }));
    }
  }
  return bar;
}

export async function latencyPanel(filter: URLSearchParams): Promise<HTMLElement> {
  const section = h("section", { class: "latency", id: "latency", "aria-labelledby": "latency-title" });
  append(section, h("h3", { id: "latency-title" }, "Where the time went"));
  let doc: LatencyView;
  try {
    doc = await getJson<LatencyView>("/api/latency", filter);
  } catch (error) {
    section.append(h("p", { class: "error" }, error instanceof Error ? error.message : String(error)));
    return section;
  }
  if (doc.tools.length === 0 && doc.slowest.length === 0) {
    section.hidden = true;
    return section;
  }
  if (doc.tools.length > 0) {
    const body = h("tbody");
    for (const t of doc.tools) {
      body.append(h("tr", { "data-tool": t.tool },
        h("td", {}, t.tool),
        h("td", { class: "num" }, count(t.runs)),
        h("td", { class: "num" }, t.runs ? ms(t.run_p50_ms) : "–"),
        h("td", { class: "num" }, t.runs ? ms(t.run_p95_ms) : "–"),
        h("td", { class: "num" }, count(t.waits)),
        h("td", { class: "num" }, t.waits ? ms(t.wait_p50_ms) : "–"),
        h("td", { class: "num" }, t.waits ? ms(t.wait_p95_ms) : "–"),
        h("td", { class: "num" }, t.waits ? ms(t.wait_total_ms) : "–")));
    }
    section.append(h("table", { class: "tool-latency", id: "tool-latency" },
      h("caption", {}, "Tools: how long they ran, and how long they waited for your permission (waits need traces on)"),
      h("thead", {}, h("tr", {}, ...["Tool", "Runs", "Run p50", "Run p95", "Waits", "Wait p50", "Wait p95", "Waited in all"].map((c, i) => h("th", { class: i ? "num" : "" }, c)))),
      body));
  }
  if (doc.slowest.length > 0) {
    const body = h("tbody");
    for (const p of doc.slowest) {
      body.append(h("tr", { "data-session": p.session_id },
        h("td", {}, h("a", { href: `#/session/${encodeURIComponent(p.session_id)}`, title: p.session_id }, shortId(p.session_id))),
        h("td", {}, localTime(p.start)),
        h("td", { class: "num" }, ms(p.duration_ms)),
        h("td", {}, splitBar(p))));
    }
    section.append(h("table", { class: "slowest", id: "slowest-prompts" },
      h("caption", {}, "Slowest prompts (from spans): where their time went"),
      h("thead", {}, h("tr", {}, h("th", {}, "Session"), h("th", {}, "Started"), h("th", { class: "num" }, "Took"), h("th", {}, "Model · tools · waiting for you · other"))),
      body));
  }
  return section;
}

// A session's page: one waterfall per prompt when Claude Code sent spans (the span tree to
// scale, where the prompt's time went, a details pane with a span's attributes and the events
// joined to it), and the events of each prompt in order (the only view when there are no spans).

import { getJson, type EventItem, type PromptTraceDoc, type SpanDoc, type Timeline, type TraceView } from "../api";
import { append, clear, h, styled } from "../dom";
import { count, money, plural, shortTime } from "../logic/format";
import { allSpans, ms, rows, splitParts, ticks, type Row } from "../logic/waterfall";
import { attributeTable, details } from "../widgets";

/** What the page remembers across the live feed's re-renders; forgotten when the page is
 *  opened anew (any navigation). */
const memory = {
  fresh: true,
  tab: "waterfall" as "waterfall" | "events",
  collapsed: new Set<string>(),
  selected: "",
};
window.addEventListener("hashchange", () => { memory.fresh = true; });

export async function renderSession(view: HTMLElement, id: string): Promise<void> {
  const path = `/api/sessions/${encodeURIComponent(id)}`;
  const [timeline, trace] = await Promise.all([
    getJson<Timeline>(`${path}/timeline`),
    getJson<TraceView>(`${path}/trace`).catch((error: unknown) => error instanceof Error ? error : new Error(String(error))),
  ]);
  if (memory.fresh) {
    memory.fresh = false;
    memory.tab = "waterfall";
    memory.collapsed = new Set();
    memory.selected = "";
  }
  clear(view);
  const s = timeline.summary;
  append(view, h("h2", {}, "Session ", h("code", {}, timeline.session_id)),
    s ? h("p", { class: "summary" }, `${shortTime(s.first)} · ${plural(s.prompts, "prompt")} · ${money(s.cost_usd)} · ${s.models.join(", ")}`) : null);
  const events = eventsView(timeline);
  if (trace instanceof Error) {
    append(view, h("p", { class: "hint", id: "trace-note" }, `Spans could not be read: ${trace.message}`), events);
    return;
  }
  if (trace.prompts.length === 0) {
    append(view, h("p", { class: "hint", id: "trace-note" },
      "No spans for this session: Claude Code sends them with traces on (the Settings page's telemetry section). Its events:"), events);
    return;
  }
  const waterfall = h("div", { id: "waterfalls" });
  for (const prompt of trace.prompts) waterfall.append(promptWaterfall(prompt, timeline));
  const show = (tab: "waterfall" | "events") => {
    memory.tab = tab;
    waterfall.hidden = tab !== "waterfall";
    events.hidden = tab !== "events";
    waterfallTab.setAttribute("aria-selected", String(tab === "waterfall"));
    eventsTab.setAttribute("aria-selected", String(tab === "events"));
  };
  const waterfallTab = h("button", { role: "tab", id: "tab-waterfall", onclick: () => show("waterfall") }, `Waterfall (${plural(trace.prompts.length, "prompt")})`);
  const eventsTab = h("button", { role: "tab", id: "tab-events", onclick: () => show("events") }, `Events (${count(timeline.prompts.reduce((n, p) => n + p.events.length, 0))})`);
  append(view, h("div", { class: "tabs", role: "tablist" }, waterfallTab, eventsTab), waterfall, events);
  show(memory.tab);
}

// ---------------------------------------------------------------------------------------------
// Waterfall

function promptWaterfall(prompt: PromptTraceDoc, timeline: Timeline): HTMLElement {
  const totalMs = (prompt.end_ns - prompt.start_ns) / 1e6;
  const group = timeline.prompts.find((p) => p.prompt_id !== null && p.prompt_id === prompt.prompt_id);
  const text = prompt.prompt ?? group?.prompt ?? null;
  const section = h("section", { class: "wf-prompt", "data-prompt": prompt.prompt_id ?? "" });
  append(section, h("div", { class: "prompt-head" },
    h("strong", {}, "Prompt"), " ",
    text ?? (prompt.prompt_id ? h("em", {}, "(prompt text not logged: OTEL_LOG_USER_PROMPTS is off)") : h("em", {}, "(spans of no known prompt)")),
    h("span", { class: "prompt-cost" }, ` ${ms(totalMs)}`, group ? ` · ${money(group.cost_usd)} · ${count(group.tokens)} tokens` : "")));
  section.append(splitBar(prompt));
  const grid = h("div", { class: "wf-grid" });
  const body = h("div", { class: "wf", role: "tree", "aria-label": "spans of the prompt" });
  const pane = h("aside", { class: "detail wf-detail", "aria-live": "polite" });
  const spans = allSpans(prompt);
  const draw = () => {
    clear(body);
    body.append(axis(totalMs));
    for (const row of rows(prompt, memory.collapsed)) body.append(rowNode(row, draw, () => select(row.span)));
  };
  const select = (span: SpanDoc) => {
    memory.selected = span.span_id;
    for (const el of body.querySelectorAll(".wf-row")) el.classList.toggle("selected", (el as HTMLElement).dataset.span === span.span_id);
    showSpan(pane, span, prompt);
  };
  draw();
  const chosen = spans.find((s) => s.span_id === memory.selected);
  if (chosen) select(chosen);
  else append(pane, h("p", { class: "hint" }, "Choose a span to see its attributes and the events joined to it."));
  grid.append(body, pane);
  section.append(grid);
  return section;
}

/** Where the prompt's time went, as one bar of four parts and their legend. */
function splitBar(prompt: PromptTraceDoc): HTMLElement {
  const parts = splitParts(prompt);
  const bar = h("div", { class: "split-bar", role: "img", "aria-label": parts.map((p) => `${p.label} ${ms(p.ms)}`).join(", ") });
  const legend = h("ul", { class: "split-legend" });
  for (const p of parts) {
    bar.append(styled(h("span", { class: `part part-${p.key}`, title: `${p.label}: ${ms(p.ms)}` }), { width: `${(p.share * 100).toFixed(2)}%` }));
    legend.append(h("li", { "data-part": p.key }, h("span", { class: `swatch part-${p.key}` }), `${p.label} ${ms(p.ms)} (${Math.round(p.share * 100)}%)`));
  }
  return h("div", { class: "split" }, bar, legend);
}

function axis(totalMs: number): HTMLElement {
  const track = h("div", { class: "wf-track wf-axis-track" });
  for (const t of ticks(totalMs)) {
    const left = totalMs > 0 ? (t / totalMs) * 100 : 0;
    track.append(styled(h("span", { class: "wf-tick" }, ms(t)), { left: `${left.toFixed(3)}%` }));
  }
  return h("div", { class: "wf-row wf-axis", "aria-hidden": "true" }, h("div", { class: "wf-label" }, "span"), track, h("div", { class: "wf-dur" }, "takes"));
}

function rowNode(row: Row, redraw: () => void, select: () => void): HTMLElement {
  const toggle = (collapse: boolean) => {
    if (collapse) memory.collapsed.add(row.span.span_id);
    else memory.collapsed.delete(row.span.span_id);
    redraw();
    const again = document.querySelector<HTMLElement>(`.wf-row[data-span="${CSS.escape(row.span.span_id)}"]`);
    again?.focus();
  };
  const caret = row.hasChildren
    ? h("button", { class: "caret", "aria-label": row.collapsed ? "expand" : "collapse", onclick: (e: Event) => { e.stopPropagation(); toggle(!row.collapsed); } }, row.collapsed ? "▸" : "▾")
    : h("span", { class: "caret-space" });
  const label = styled(h("div", { class: "wf-label", title: row.span.name },
    caret, h("span", { class: "wf-name" }, row.label),
    row.error ? h("span", { class: "wf-error", title: "this span failed" }, " ✕ error") : null), { paddingLeft: `${row.depth * 1.1}rem` });
  const track = h("div", { class: "wf-track" });
  track.append(styled(h("span", { class: `wf-bar kind-${row.kind}${row.error ? " failed" : ""}`, title: `${row.label}: ${ms(row.durationMs)}` }), { left: `${row.left.toFixed(3)}%`, width: `${row.width.toFixed(3)}%` }));
  for (const seg of row.segments) {
    track.append(styled(h("span", { class: `wf-seg kind-${seg.kind}`, title: seg.kind === "waiting" ? "waiting for you" : "running" }), { left: `${seg.left.toFixed(3)}%`, width: `${seg.width.toFixed(3)}%` }));
  }
  if (row.ttft !== undefined) {
    track.append(styled(h("span", { class: "wf-ttft", title: `first token after ${ms(row.ttftMs ?? 0)}` }), { left: `${row.ttft.toFixed(3)}%` }));
  }
  const node = h("div", {
    class: `wf-row${row.error ? " failed" : ""}`,
    role: "treeitem",
    tabindex: 0,
    "data-span": row.span.span_id,
    "data-kind": row.kind,
    "aria-level": row.depth + 1,
    "aria-expanded": row.hasChildren ? String(!row.collapsed) : undefined,
    onclick: select,
    onkeydown: (e: Event) => {
      const key = (e as KeyboardEvent).key;
      if (key === "Enter" || key === " ") { e.preventDefault(); select(); }
      else if (key === "ArrowRight" && row.hasChildren && row.collapsed) toggle(false);
      else if (key === "ArrowLeft" && row.hasChildren && !row.collapsed) toggle(true);
      else if (key === "ArrowDown" || key === "ArrowUp") {
        e.preventDefault();
        const sibling = key === "ArrowDown" ? node.nextElementSibling : node.previousElementSibling;
        if (sibling instanceof HTMLElement && sibling.classList.contains("wf-row") && !sibling.classList.contains("wf-axis")) sibling.focus();
      }
    },
  }, label, track, h("div", { class: "wf-dur" }, ms(row.durationMs)));
  return node;
}

function showSpan(pane: HTMLElement, span: SpanDoc, prompt: PromptTraceDoc): void {
  clear(pane);
  const from = (span.start_ns - prompt.start_ns) / 1e6;
  const status = span.status_code === 2 ? "error" : span.status_code === 1 ? "ok" : "unset";
  append(pane,
    h("h3", {}, span.name),
    h("p", {}, `starts at +${ms(from)} · takes ${ms((span.end_ns - span.start_ns) / 1e6)} · status ${status}`),
    h("p", { class: "hint" }, "span ", h("code", {}, span.span_id)));
  const list = h("ul", { class: "prompt-events wf-events" });
  for (const e of span.events) {
    list.append(h("li", { class: `ev ev-${e.name}`, "data-name": e.name },
      h("span", { class: "time" }, new Date(e.time).toLocaleTimeString()), " ",
      h("span", { class: "name" }, e.name), " ",
      h("span", { class: "details" }, details(e))));
  }
  append(pane, h("h4", {}, span.events.length ? `Events (${span.events.length})` : "No events joined to this span"),
    span.events.length ? list : null,
    attributeTable("Attributes", span.attributes));
}

// ---------------------------------------------------------------------------------------------
// Events of each prompt, in order

function eventsView(timeline: Timeline): HTMLElement {
  const list = h("ol", { class: "timeline", id: "timeline" });
  for (const p of timeline.prompts) {
    const head = h("div", { class: "prompt-head" },
      h("strong", {}, p.prompt_id ? "Prompt" : "Session events"),
      " ",
      p.prompt ?? (p.prompt_id ? h("em", {}, "(prompt text not logged: OTEL_LOG_USER_PROMPTS is off)") : ""),
      h("span", { class: "prompt-cost" }, ` ${money(p.cost_usd)} · ${count(p.tokens)} tokens · ${p.api_requests} API requests`));
    const events = h("ul", { class: "prompt-events" });
    for (const e of p.events as EventItem[]) {
      const joined = e.tool_decision ? ` (decision: ${e.tool_decision.decision ?? "?"} by ${e.tool_decision.source ?? "?"})` : "";
      events.append(h("li", { class: `ev ev-${e.name}`, "data-name": e.name },
        h("span", { class: "time" }, new Date(e.time).toLocaleTimeString()), " ",
        h("span", { class: "name" }, e.name), " ",
        e.request_index !== undefined ? h("span", { class: "request-no" }, `#${e.request_index} `) : null,
        h("span", { class: "details" }, details(e) + joined),
        e.request ? h("span", { class: "request-link", title: e.request.request_id }, ` ← API request #${e.request.index}`) : null));
    }
    list.append(h("li", { class: "prompt" }, head, events));
  }
  return list;
}

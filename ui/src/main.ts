// The ccscope dashboard: overview tiles and charts, the event explorer, sessions and their
// timelines, the fleet view, the receiver panel and the managed-settings forms. Hash routes: #/overview, #/fleet,
// #/events, #/sessions, #/session/<id>, #/receiver, #/settings. Updates live from /api/stream.

import "./style.css";
import { fetchDownload, getJson, getText, launchToken, liveFeed, postJson, sendJson, type BudgetInfo, type SetupPreview, type SetupResult, type EventItem, type EventPage, type FleetInfo, type Overview, type ReceiverInfo, type SessionItem, type SourceInfo, type Totals } from "./api";
import { append, clear, download, h, svgNode, svgToPng } from "./dom";
import { ago, change, count, duration, localTime, money, percent, plural, rangeReaching, shortId, shortTime } from "./logic/format";
import { presetRange, rangeParams, type Preset, type Range } from "./logic/range";
import { pageOf, visibleRows } from "./logic/virtual";
import { latencyPanel } from "./pages/latency";
import { moneyPanel } from "./pages/money";
import { renderSession } from "./pages/session";
import { renderSettings } from "./settings";
import { attributeTable, details } from "./widgets";

// ---------------------------------------------------------------------------------------------
// State

interface State {
  range: Range;
  group: string;
  filters: { model: string; user: string; session: string };
  attrs: string[];
  theme: "light" | "dark";
  eventName: string;
  search: string;
}

const saved = (key: string, fallback: string): string => localStorage.getItem(`ccscope.${key}`) ?? fallback;
const prefersDark = window.matchMedia("(prefers-color-scheme: dark)").matches;
const state: State = {
  range: presetRange((saved("preset", "today") as Exclude<Preset, "custom">) || "today", Date.now()),
  group: saved("group", ""),
  filters: { model: "", user: "", session: "" },
  attrs: [],
  theme: saved("theme", prefersDark ? "dark" : "light") as "light" | "dark",
  eventName: "",
  search: "",
};
if (!["1h", "today", "7d", "30d"].includes(state.range.preset)) state.range = presetRange("today", Date.now());

function refreshRange(): void {
  if (state.range.preset !== "custom") state.range = presetRange(state.range.preset, Date.now());
}

function params(extra: Record<string, string> = {}): URLSearchParams {
  const p = rangeParams(state.range, state.filters, state.attrs);
  for (const [k, v] of Object.entries(extra)) if (v !== "") p.set(k, v);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Shell

const view = document.getElementById("view") as HTMLElement;
const status = document.getElementById("live") as HTMLElement;

function applyTheme(): void {
  document.documentElement.dataset.theme = state.theme;
}

function select(id: string, options: [string, string][], value: string, onChange: (v: string) => void): HTMLSelectElement {
  const el = h("select", { id, "aria-label": id });
  for (const [v, label] of options) el.append(h("option", { value: v, selected: v === value }, label));
  el.addEventListener("change", () => onChange(el.value));
  return el;
}

function buildToolbar(): void {
  const bar = document.getElementById("toolbar") as HTMLElement;
  clear(bar);
  const rangeSelect = select(
    "range",
    [["1h", "Last hour"], ["today", "Today"], ["7d", "7 days"], ["30d", "30 days"], ["custom", "Custom…"]],
    state.range.preset,
    (v) => {
      if (v === "custom") {
        custom.hidden = false;
        return;
      }
      custom.hidden = true;
      state.range = presetRange(v as Exclude<Preset, "custom">, Date.now());
      localStorage.setItem("ccscope.preset", v);
      render();
    },
  );
  const fromInput = h("input", { type: "datetime-local", id: "from", "aria-label": "from" });
  const toInput = h("input", { type: "datetime-local", id: "to", "aria-label": "to" });
  const custom = h(
    "span",
    { class: "custom", hidden: state.range.preset !== "custom" },
    fromInput,
    "→",
    toInput,
    h("button", {
      type: "button",
      onclick: () => {
        const from = Date.parse(fromInput.value);
        const to = Date.parse(toInput.value);
        if (Number.isNaN(from) || Number.isNaN(to) || from >= to) {
          flash("Pick a start before the end.");
          return;
        }
        state.range = { preset: "custom", fromMs: from, toMs: to };
        render();
      },
    }, "Apply"),
  );
  const groupPresets: [string, string][] = [["", "Group: default"], ["model", "by model"], ["session", "by session"], ["user", "by user"], ["terminal", "by terminal"], ["version", "by version"], ["type", "by type"],
    ["attr:query_source", "by who asked"], ["attr:agent.name", "by subagent"], ["attr:skill.name", "by skill"], ["attr:plugin.name", "by plugin"],
    ["attr:mcp_server.name", "by MCP server"], ["attr:mcp_tool.name", "by MCP tool"], ["attr:effort", "by effort"], ["attr:speed", "by speed"], ["attr:vcs.repository.name", "by repository"],
    ["attr", "by attribute…"]];
  const isAttr = state.group.startsWith("attr:") && !groupPresets.some(([v]) => v === state.group);
  const groupAttr = h("input", {
    type: "search",
    id: "group-attr",
    placeholder: "attribute key, e.g. department",
    value: isAttr ? state.group.slice(5) : "",
    hidden: !isAttr,
    "aria-label": "group by attribute",
  });
  groupAttr.addEventListener("change", () => {
    const key = groupAttr.value.trim();
    if (key === "") return;
    state.group = `attr:${key}`;
    localStorage.setItem("ccscope.group", state.group);
    render();
  });
  const groupSelect = select(
    "group",
    groupPresets,
    isAttr ? "attr" : state.group,
    (v) => {
      groupAttr.hidden = v !== "attr";
      if (v === "attr") {
        groupAttr.focus();
        return;
      }
      state.group = v;
      localStorage.setItem("ccscope.group", v);
      render();
    },
  );
  const filter = (key: "model" | "user" | "session", label: string) => {
    const input = h("input", { type: "search", id: `filter-${key}`, placeholder: label, value: state.filters[key], "aria-label": label });
    input.addEventListener("change", () => {
      state.filters[key] = input.value;
      render();
    });
    return input;
  };
  const attr = h("input", { type: "search", id: "filter-attr", placeholder: "attribute key=value", value: state.attrs.join(","), "aria-label": "attribute filter" });
  attr.addEventListener("change", () => {
    state.attrs = attr.value.split(",").map((s) => s.trim()).filter((s) => s.includes("="));
    render();
  });
  const theme = h("button", {
    type: "button",
    id: "theme",
    title: "Light or dark",
    onclick: () => {
      state.theme = state.theme === "dark" ? "light" : "dark";
      localStorage.setItem("ccscope.theme", state.theme);
      applyTheme();
      render();
    },
  }, "◐");
  append(bar, rangeSelect, custom, groupSelect, groupAttr, filter("model", "model"), filter("user", "user"), filter("session", "session"), attr, theme);
}

let flashTimer = 0;
function flash(message: string): void {
  const el = document.getElementById("flash") as HTMLElement;
  el.textContent = message;
  el.hidden = false;
  window.clearTimeout(flashTimer);
  flashTimer = window.setTimeout(() => (el.hidden = true), 5000);
}

function errorBox(error: unknown): HTMLElement {
  return h("div", { class: "error", role: "alert" }, error instanceof Error ? error.message : String(error));
}

/** A button that downloads what `path()` answers (with the token header) as `name`. */
function downloadButton(id: string, label: string, path: () => string, name: string): HTMLElement {
  const button = h("button", { class: "button", id, type: "button" }, label) as HTMLButtonElement;
  button.addEventListener("click", () => {
    button.disabled = true;
    fetchDownload(path())
      .then((blob) => download(name, blob))
      .catch((error) => flash(error instanceof Error ? error.message : String(error)))
      .finally(() => { button.disabled = false; });
  });
  return button;
}

// ---------------------------------------------------------------------------------------------
// Overview

function tile(id: string, label: string, value: string, current: number, previous: number, sub?: string): HTMLElement {
  const c = change(current, previous);
  return h(
    "div",
    { class: "tile", id: `tile-${id}`, "data-value": String(current) },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
    h("div", { class: `delta ${c.direction}`, title: "change against the previous period of the same length" }, c.text ? `${c.text} vs previous` : ""),
    sub ? h("div", { class: "sub" }, sub) : null,
  );
}

function tiles(cur: Totals, prev: Totals): HTMLElement {
  const active = cur.active_time_s.user + cur.active_time_s.cli;
  const prevActive = prev.active_time_s.user + prev.active_time_s.cli;
  return h(
    "section",
    { class: "tiles" },
    tile("cost", "Cost", money(cur.cost_usd), cur.cost_usd, prev.cost_usd),
    tile("tokens", "Tokens", count(cur.tokens_total), cur.tokens_total, prev.tokens_total,
      `in ${count(cur.tokens.input)} · out ${count(cur.tokens.output)} · cache ${count(cur.tokens.cacheRead)}`),
    tile("sessions", "Sessions", count(cur.sessions), cur.sessions, prev.sessions),
    tile("active", "Active time", duration(active), active, prevActive,
      `you ${duration(cur.active_time_s.user)} · Claude ${duration(cur.active_time_s.cli)}`),
    tile("lines", "Lines", `+${count(cur.lines.added)} / −${count(cur.lines.removed)}`, cur.lines.added + cur.lines.removed, prev.lines.added + prev.lines.removed),
    tile("commits", "Commits", count(cur.commits), cur.commits, prev.commits),
    tile("prs", "Pull requests", count(cur.pull_requests), cur.pull_requests, prev.pull_requests),
    tile("acceptance", "Edit acceptance", percent(cur.acceptance_rate), cur.acceptance_rate ?? 0, prev.acceptance_rate ?? 0,
      `${count(cur.edit_decisions.accept)} accepted · ${count(cur.edit_decisions.reject)} rejected`),
    tile("errors", "API error rate", percent(cur.api_error_rate), cur.api_error_rate ?? 0, prev.api_error_rate ?? 0,
      `${plural(cur.events.api_error ?? 0, "error")} · ${plural(cur.events.api_request ?? 0, "request")}`),
  );
}

const CHARTS: { name: string; extra?: Record<string, string>; grouped?: boolean }[] = [
  { name: "cost", grouped: true },
  { name: "tokens", grouped: true },
  { name: "cache" },
  { name: "sessions" },
  { name: "lines", grouped: true },
  { name: "active", grouped: true },
  { name: "commits" },
  { name: "decisions" },
  { name: "decisions", extra: { by: "language" } },
  { name: "latency" },
  { name: "ttft" },
  { name: "errors" },
  { name: "tools" },
  { name: "tool-durations" },
];

function chartParams(spec: (typeof CHARTS)[number]): URLSearchParams {
  const extra: Record<string, string> = { theme: state.theme, ...(spec.extra ?? {}) };
  if (spec.grouped && state.group) extra.group = state.group;
  return params(extra);
}

/** What a chart with no data in the range shows instead of an empty grid: when data was last
 *  seen, and a range that shows it. */
function emptyChart(svg: Node): HTMLElement {
  const title = (svg as Element).querySelector?.("text")?.textContent?.trim() || "data";
  // "Cost (USD)" -> "cost (USD)", "API latency" stays.
  const what = /^[A-Z][a-z]/.test(title) ? title.charAt(0).toLowerCase() + title.slice(1) : title;
  const box = h("div", { class: "empty-chart", role: "note" }, h("p", {}, `No ${what} in this range.`));
  if (newestRecord) {
    const reach = rangeReaching(newestRecord);
    const show = h("button", { type: "button", class: "link" }, `show ${reach.label}`);
    show.addEventListener("click", () => {
      state.range = reach.preset === "custom" ? { preset: "custom", fromMs: reach.fromMs, toMs: Date.now() } : presetRange(reach.preset, Date.now());
      buildToolbar();
      render();
    });
    append(box, h("p", { class: "hint" }, `Last data ${ago(newestRecord)} (${shortTime(newestRecord)}) — `, show));
  } else {
    append(box, h("p", { class: "hint" }, "Nothing has been received yet: point Claude Code at this receiver (see Receiver)."));
  }
  return box;
}

async function loadChart(card: HTMLElement, spec: (typeof CHARTS)[number]): Promise<void> {
  const holder = card.querySelector(".chart") as HTMLElement;
  try {
    const svg = await getText(`/api/charts/${spec.name}`, chartParams(spec));
    const node = svgNode(svg);
    const empty = (node as Element).getAttribute?.("data-empty") === "true";
    holder.replaceChildren(empty ? emptyChart(node) : node);
    card.classList.toggle("empty", empty);
    card.dataset.svg = svg;
  } catch (error) {
    holder.replaceChildren(errorBox(error));
  }
}

const cardSpecs = new WeakMap<HTMLElement, (typeof CHARTS)[number]>();

function chartCard(spec: (typeof CHARTS)[number]): HTMLElement {
  const id = `chart-${spec.name}${spec.extra?.by ? `-${spec.extra.by}` : ""}`;
  const card = h("figure", { class: "card", id });
  cardSpecs.set(card, spec);
  const save = (png: boolean) => async () => {
    const svg = card.dataset.svg;
    if (!svg) return;
    try {
      download(`ccscope-${id}.${png ? "png" : "svg"}`, png ? await svgToPng(svg) : new Blob([svg], { type: "image/svg+xml" }));
    } catch (error) {
      flash(error instanceof Error ? error.message : String(error));
    }
  };
  append(
    card,
    h("div", { class: "chart" }, h("div", { class: "loading" }, "…")),
    h("figcaption", {},
      h("button", { type: "button", class: "export-svg", onclick: save(false) }, "SVG"),
      h("button", { type: "button", class: "export-png", onclick: save(true) }, "PNG")),
  );
  return card;
}

function guide(): HTMLElement {
  const env = {
    CLAUDE_CODE_ENABLE_TELEMETRY: "1",
    OTEL_METRICS_EXPORTER: "otlp",
    OTEL_LOGS_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiverHttp ? `http://${receiverHttp}` : "http://127.0.0.1:4318",
    OTEL_METRIC_EXPORT_INTERVAL: "10000",
  };
  const text = JSON.stringify({ env }, null, 2);
  return h(
    "section",
    { class: "guide", id: "first-run" },
    h("h2", {}, "Nothing received yet"),
    h("p", {}, "Point Claude Code at this receiver: add this to the \"env\" block of ~/.claude/settings.json (or of managed-settings.json for every user), then start a new Claude Code session."),
    h("pre", { id: "guide-env" }, text),
    h("button", { type: "button", onclick: () => void navigator.clipboard?.writeText(text).then(() => flash("Copied.")) }, "Copy"),
    h("p", { class: "hint", id: "guide-traces" }, "To see where each prompt's time went (model, tools, waiting for your permission) as a waterfall, also add \"CLAUDE_CODE_ENHANCED_TELEMETRY_BETA\": \"1\" and \"OTEL_TRACES_EXPORTER\": \"otlp\" (a beta of Claude Code's; a few times the data of events alone)."),
    setupSection(),
  );
}

let receiverHttp: string | null = null;

/** Offers to add the receiver's settings to the user's ~/.claude/settings.json: preview the
 * exact diff, then write (the server backs the old file up first). */
function setupSection(): HTMLElement {
  const diff = h("pre", { id: "setup-diff", hidden: true });
  const result = h("p", { id: "setup-result", role: "status" });
  const apply = h("button", { type: "button", id: "setup-apply", hidden: true }, "Add to my settings.json");
  const preview = h("button", { type: "button", id: "setup-preview" }, "Preview the change to ~/.claude/settings.json");
  const traces = h("input", { type: "checkbox", id: "setup-traces" });
  const tracesLabel = h("label", { for: "setup-traces", title: "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1, OTEL_TRACES_EXPORTER=otlp" }, traces, " with traces (each prompt's waterfall; more data)");
  const query = () => new URLSearchParams(traces.checked ? { traces: "1" } : {});
  traces.addEventListener("change", () => { apply.hidden = true; diff.hidden = true; });
  preview.addEventListener("click", async () => {
    try {
      const p = await getJson<SetupPreview>("/api/setup", query());
      diff.hidden = false;
      if (p.unchanged) {
        diff.textContent = `${p.path} already sends Claude Code's telemetry here.`;
        apply.hidden = true;
      } else {
        diff.textContent = p.diff || p.proposed;
        apply.hidden = false;
        apply.textContent = p.exists ? `Update ${p.path}` : `Create ${p.path}`;
      }
    } catch (error) {
      result.textContent = error instanceof Error ? error.message : String(error);
    }
  });
  apply.addEventListener("click", async () => {
    try {
      const r = await postJson<SetupResult>(`/api/setup?${query().toString()}`);
      apply.hidden = true;
      result.textContent = r.written
        ? `Written to ${r.path}${r.backup ? ` (the previous file is saved as ${r.backup})` : ""}. Start a new Claude Code session to send telemetry here.`
        : `${r.path} already had these settings.`;
    } catch (error) {
      result.textContent = error instanceof Error ? error.message : String(error);
    }
  });
  return h("section", { class: "guide setup", id: "setup" },
    h("h3", {}, "Send Claude Code's telemetry here"),
    h("p", {}, "ccscope can add the settings that point Claude Code at this receiver to your own Claude Code settings (the \"env\" block is merged; every other setting stays as it is, and the old file is backed up first)."),
    h("p", {}, tracesLabel), preview, " ", apply, diff, result);
}

function modelTable(totals: Totals): HTMLElement {
  const table = h("table", { class: "models", id: "by-model", hidden: totals.by_model.length === 0 },
    h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", { class: "num" }, "Cost"), h("th", { class: "num" }, "Tokens"))));
  const body = h("tbody");
  for (const m of totals.by_model) body.append(h("tr", {}, h("td", {}, m.model), h("td", { class: "num" }, money(m.cost_usd)), h("td", { class: "num" }, count(m.tokens))));
  table.append(body);
  return table;
}

/** Live update of the overview: tiles, the model table and every chart are replaced where they stand. */
async function refreshOverview(): Promise<void> {
  const overview = await getJson<Overview>("/api/overview", params());
  view.querySelector(".tiles")?.replaceWith(tiles(overview.current, overview.previous));
  view.querySelector("#by-model")?.replaceWith(modelTable(overview.current));
  const money = await moneyPanel(params());
  view.querySelector("#money")?.replaceWith(money);
  const latency = await latencyPanel(params());
  view.querySelector("#latency")?.replaceWith(latency);
  if (overview.has_data) view.querySelector("#first-run")?.remove();
  const cards = [...view.querySelectorAll<HTMLElement>("section.charts figure")];
  await Promise.all(cards.map((card) => {
    const spec = cardSpecs.get(card);
    return spec ? loadChart(card, spec) : Promise.resolve();
  }));
}

async function renderOverview(): Promise<void> {
  const overview = await getJson<Overview>("/api/overview", params());
  clear(view);
  if (!overview.has_data) view.append(guide());
  view.append(tiles(overview.current, overview.previous));
  view.append(await budgetStrip());
  // The report splits by the Fleet page's team choice when it is a team attribute.
  const team = () => (saved("team", "user").startsWith("attr:") ? saved("team", "user") : "");
  const report = (format: string, label: string) =>
    downloadButton(`report-${format}`, label, () => `/api/report?${params({ format, team: team() }).toString()}`, `ccscope-report.${format}`);
  view.append(h("div", { class: "report-links" }, "Usage report for this range: ", report("html", "HTML"), " ", report("md", "Markdown")));
  view.append(modelTable(overview.current));
  // Where the money went reads the range once per split: it fills its place when done, and
  // the charts do not wait for it.
  const moneySlot = h("section", { class: "money loading", id: "money", "aria-busy": "true" }, h("h3", {}, "Where the money went"), h("p", { class: "hint" }, "Reading…"));
  view.append(moneySlot);
  const money = moneyPanel(params()).then((panel) => { moneySlot.replaceWith(panel); });
  const grid = h("section", { class: "charts" });
  view.append(grid);
  const latency = latencyPanel(params()).then((panel) => { view.append(panel); });
  await Promise.all([...CHARTS.map((spec) => {
    const card = chartCard(spec);
    grid.append(card);
    return loadChart(card, spec);
  }), latency, money]);
}

// ---------------------------------------------------------------------------------------------
// Budgets

function budgetLine(label: string, u: BudgetInfo["status"]["today"]): HTMLElement | null {
  if (u.limit_usd === null) return null;
  const ratio = u.spent_usd / u.limit_usd;
  return h("span", { class: `budget ${u.crossed ? "crossed" : ""}` },
    `${label}: ${money(u.spent_usd)} of ${money(u.limit_usd)} (${percent(ratio)})`,
    h("meter", { min: 0, max: 1, high: 0.8, optimum: 0, value: Math.min(ratio, 1) }));
}

async function budgetStrip(): Promise<HTMLElement> {
  const b = await getJson<BudgetInfo>("/api/budgets");
  const strip = h("div", { class: "budgets", id: "budget-strip" });
  const today = budgetLine("Today", b.status.today);
  const month = budgetLine("This month", b.status.month);
  if (!today && !month) {
    append(strip, h("span", { class: "hint" }, "No budget set: "), h("a", { href: "#/receiver" }, "set a daily or monthly budget"));
  } else {
    append(strip, today, month);
  }
  return strip;
}

function budgetForm(b: BudgetInfo): HTMLElement {
  const input = (id: string, value: number | null) => h("input", { type: "number", id, min: "0", step: "0.01", value: value === null ? "" : String(value), placeholder: "none" });
  const daily = input("budget-daily", b.budgets.daily_usd);
  const monthly = input("budget-monthly", b.budgets.monthly_usd);
  const status = h("span", { class: "hint", id: "budget-status", role: "status" },
    `Spent today ${money(b.status.today.spent_usd)}, this month ${money(b.status.month.spent_usd)}.`);
  const save = h("button", {
    type: "button",
    id: "budget-save",
    onclick: async () => {
      const value = (el: HTMLInputElement) => (el.value.trim() === "" ? null : Number(el.value));
      try {
        const saved = await sendJson<BudgetInfo>("/api/budgets", { daily_usd: value(daily), monthly_usd: value(monthly) });
        status.textContent = `Saved. Spent today ${money(saved.status.today.spent_usd)}, this month ${money(saved.status.month.spent_usd)}.`;
      } catch (error) {
        status.textContent = error instanceof Error ? error.message : String(error);
      }
    },
  }, "Save budgets");
  return h("section", { class: "guide", id: "budgets" },
    h("h3", {}, "Budgets"),
    h("p", { class: "hint" }, "The desktop app notifies you once when a budget is reached; the overview shows how much is spent."),
    h("label", { for: "budget-daily" }, "Daily (USD) "), daily, " ",
    h("label", { for: "budget-monthly" }, "Monthly (USD) "), monthly, " ", save, " ", status);
}

// ---------------------------------------------------------------------------------------------
// Events

const ROW_PX = 30;
const PAGE = 200;

function showDetail(pane: HTMLElement, e: EventItem): void {
  clear(pane);
  append(pane,
    h("h3", {}, e.name),
    h("p", {}, localTime(e.time), " · session ", h("a", { href: `#/session/${encodeURIComponent(e.session_id)}` }, shortId(e.session_id))),
    attributeTable("Attributes", e.attributes),
    attributeTable("Resource", e.resource));
}

async function renderEvents(): Promise<void> {
  const overview = await getJson<Overview>("/api/overview", params());
  const names = Object.keys(overview.current.events).sort();
  const filterParams = () => params({ ...(state.eventName ? { name: state.eventName } : {}), ...(state.search ? { search: state.search } : {}) });
  clear(view);
  const nameSelect = select("event-name", [["", "All events"], ...names.map((n): [string, string] => [n, `${n} (${overview.current.events[n]})`])], state.eventName, (v) => {
    state.eventName = v;
    render();
  });
  const search = h("input", { type: "search", id: "event-search", placeholder: "search attributes", value: state.search, "aria-label": "search" });
  search.addEventListener("change", () => {
    state.search = search.value;
    render();
  });
  const exportLink = (format: string) => downloadButton(`export-events-${format}`, format.toUpperCase(), () => `/api/events/export?${filterParams().toString()}&format=${format}`, `ccscope-events.${format}`);
  const countLabel = h("span", { id: "event-count" });
  append(view, h("div", { class: "event-tools" }, nameSelect, search, countLabel, exportLink("csv"), exportLink("json")));
  const scroller = h("div", { class: "event-list", id: "event-list", role: "grid" });
  const spacer = h("div", { class: "spacer" });
  const rows = h("div", { class: "rows" });
  scroller.append(spacer, rows);
  const pane = h("aside", { class: "detail", id: "event-detail" }, h("p", { class: "hint" }, "Select an event to see all its attributes."));
  view.append(h("div", { class: "explorer" }, scroller, pane));

  const pages = new Map<number, Promise<EventItem[]>>();
  let total = 0;
  const fetchPage = (page: number): Promise<EventItem[]> => {
    let p = pages.get(page);
    if (!p) {
      p = getJson<EventPage>("/api/events", (() => { const q = filterParams(); q.set("limit", String(PAGE)); q.set("offset", String(page * PAGE)); return q; })())
        .then((r) => { total = r.total; return r.events; });
      pages.set(page, p);
    }
    return p;
  };
  await fetchPage(0);
  countLabel.textContent = plural(total, "event");
  spacer.style.height = `${total * ROW_PX}px`;
  let drawing = 0;
  const draw = async () => {
    const ticket = ++drawing;
    const w = visibleRows(scroller.scrollTop, scroller.clientHeight || 600, ROW_PX, total);
    const needed = new Set<number>();
    for (let i = w.first; i < w.last; i++) needed.add(pageOf(i, PAGE));
    const loaded = new Map<number, EventItem[]>();
    for (const p of needed) loaded.set(p, await fetchPage(p));
    if (ticket !== drawing) return;
    clear(rows);
    rows.style.transform = `translateY(${w.offsetPx}px)`;
    for (let i = w.first; i < w.last; i++) {
      const e = loaded.get(pageOf(i, PAGE))?.[i % PAGE];
      if (!e) continue;
      const row = h("div", { class: "row", role: "row", "data-index": i, "data-name": e.name, tabindex: 0 },
        h("span", { class: "time", title: localTime(e.time) }, shortTime(e.time)),
        h("span", { class: "name", title: e.name }, e.name),
        h("span", { class: "session", title: e.session_id }, shortId(e.session_id)),
        h("span", { class: "details", title: details(e) }, details(e)));
      row.addEventListener("click", () => showDetail(pane, e));
      row.addEventListener("keydown", (ev) => { if ((ev as KeyboardEvent).key === "Enter") showDetail(pane, e); });
      rows.append(row);
    }
  };
  scroller.addEventListener("scroll", () => void draw());
  await draw();
}

// ---------------------------------------------------------------------------------------------
// Sessions (a session's page is pages/session.ts)

async function renderSessions(): Promise<void> {
  const { sessions } = await getJson<{ sessions: SessionItem[] }>("/api/sessions", params());
  clear(view);
  if (sessions.length === 0) {
    view.append(h("p", { class: "hint" }, "No sessions in this range."));
    return;
  }
  const body = h("tbody");
  for (const s of sessions) {
    body.append(h("tr", { "data-session": s.session_id },
      h("td", {}, h("a", { href: `#/session/${encodeURIComponent(s.session_id)}` }, shortId(s.session_id))),
      h("td", {}, s.user_email ?? (s.user_id ? shortId(s.user_id) : "")),
      h("td", {}, localTime(s.first)),
      h("td", { class: "num" }, count(s.prompts)),
      h("td", { class: "num" }, money(s.cost_usd)),
      h("td", { class: "num" }, count(s.tokens.input + s.tokens.output + s.tokens.cacheRead + s.tokens.cacheCreation)),
      h("td", {}, s.models.join(", "))));
  }
  view.append(h("table", { class: "sessions", id: "sessions" },
    h("thead", {}, h("tr", {}, ...["Session", "User", "Started", "Prompts", "Cost", "Tokens", "Models"].map((t) => h("th", {}, t)))), body));
}

// ---------------------------------------------------------------------------------------------
// Fleet: users and teams (most useful over an organisation's ClickHouse)

const TEAM_GROUPS: [string, string][] = [["user", "user"], ["terminal", "terminal"], ["version", "Claude Code version"], ["model", "model"],
  ["attr:vcs.repository.name", "repository"], ["attr:query_source", "who asked"], ["attr:agent.name", "subagent"], ["attr:skill.name", "skill"],
  ["attr:mcp_server.name", "MCP server"], ["attr:effort", "effort"], ["attr", "attribute…"]];

async function renderFleet(): Promise<void> {
  const team = saved("team", "user");
  const fleet = await getJson<FleetInfo>("/api/fleet", params({ group: team }));
  clear(view);
  const isAttr = team.startsWith("attr:") && !TEAM_GROUPS.some(([v]) => v === team);
  const keyInput = h("input", { type: "search", id: "team-attr", placeholder: "resource attribute, e.g. department", value: isAttr ? team.slice(5) : "", hidden: !isAttr, "aria-label": "team attribute" });
  const choose = (value: string) => {
    localStorage.setItem("ccscope.team", value);
    render();
  };
  keyInput.addEventListener("change", () => {
    const key = keyInput.value.trim();
    if (key !== "") choose(`attr:${key}`);
  });
  const teamSelect = select("team", TEAM_GROUPS, isAttr ? "attr" : team, (v) => {
    keyInput.hidden = v !== "attr";
    if (v === "attr") keyInput.focus();
    else choose(v);
  });
  const cost = fleet.rows.reduce((sum, r) => sum + r.cost_usd, 0);
  const tile = (id: string, label: string, value: string) => h("div", { class: "tile", id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
  append(view,
    h("div", { class: "tiles", id: "fleet-tiles" },
      tile("fleet-users", "Active users", count(fleet.users)),
      tile("fleet-sessions", "Sessions", count(fleet.sessions)),
      tile("fleet-cost", "Cost", money(cost)),
      tile("fleet-cost-per-user", "Cost per active user", fleet.users > 0 ? money(cost / fleet.users) : "—")),
    h("div", { class: "fleet-controls" }, h("label", { for: "team" }, "Split by "), teamSelect, keyInput));
  const label = isAttr ? team.slice(5) : (TEAM_GROUPS.find(([v]) => v === team)?.[1] ?? team);
  const body = h("tbody");
  for (const r of fleet.rows) {
    const name = r.key === "" ? h("em", {}, `(no ${label})`) : r.key;
    const cell = team === "user" && r.key !== ""
      ? h("a", { href: "#/sessions", title: `sessions of ${r.key}`, onclick: () => { state.filters.user = r.key; buildToolbar(); } }, name)
      : name;
    body.append(h("tr", { "data-key": r.key },
      h("td", { class: "key", title: r.key }, cell),
      h("td", { class: "num" }, count(r.users)),
      h("td", { class: "num" }, count(r.sessions)),
      h("td", { class: "num" }, count(r.prompts)),
      h("td", { class: "num" }, money(r.cost_usd)),
      h("td", { class: "num" }, r.cost_per_user === null ? "—" : money(r.cost_per_user)),
      h("td", { class: "num" }, count(r.tokens)),
      h("td", { class: "num" }, `+${count(r.lines_added)} −${count(r.lines_removed)}`),
      h("td", { class: "num" }, r.acceptance === null ? "—" : percent(r.acceptance))));
  }
  const heads = [label.charAt(0).toUpperCase() + label.slice(1), "Users", "Sessions", "Prompts", "Cost", "Cost/user", "Tokens", "Lines", "Edits accepted"];
  view.append(fleet.rows.length === 0
    ? h("p", { class: "hint", id: "fleet-empty" }, "No activity in this range.")
    : h("table", { class: "fleet", id: "fleet" }, h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", {}, t)))), body));
  const grid = h("section", { class: "charts fleet-charts" });
  const specs: (typeof CHARTS)[number][] = [
    { name: "users", extra: { per: "day" } },
    { name: "users", extra: { per: "week" } },
    { name: "cost", extra: { group: team } },
    { name: "users", extra: { group: "terminal" } },
    { name: "users", extra: { group: "version" } },
  ];
  for (const spec of specs) {
    const card = chartCard(spec);
    card.id = `fleet-chart-${Object.values(spec.extra ?? {}).join("-").replace(/[^a-z0-9-]/gi, "_")}-${spec.name}`;
    grid.append(card);
    void loadChart(card, spec);
  }
  view.append(grid);
}

// ---------------------------------------------------------------------------------------------
// Receiver

async function renderReceiver(): Promise<void> {
  const r = await getJson<ReceiverInfo>("/api/receiver");
  clear(view);
  const row = (k: string, v: string) => h("tr", {}, h("th", {}, k), h("td", {}, v));
  append(view, h("table", { class: "attributes", id: "receiver" }, h("tbody", {},
    row("OTLP/gRPC", r.grpc ?? "off"),
    row("OTLP/HTTP", r.http ?? "off"),
    row("State", r.paused ? "paused: exports are answered “retry later” and Claude Code keeps them" : "receiving"),
    row("Database", r.database),
    row("Dashboard reads", r.source.kind === "clickhouse" ? `ClickHouse ${r.source.location}` : "this machine's store"),
    row("Exports accepted", count(r.exports_accepted)),
    row("Records accepted", count(r.records_accepted)),
    row("Exports refused", count(r.exports_refused)),
    row("Records rejected", count(r.records_rejected)),
    row("Last export", r.last_export ? localTime(r.last_export) : "none since start"))));
  view.append(sourceSection(r.source));
  view.append(setupSection());
  view.append(budgetForm(await getJson<BudgetInfo>("/api/budgets")));
  if (r.recent_refusals.length > 0) {
    const body = h("tbody");
    for (const x of r.recent_refusals) body.append(h("tr", {}, h("td", {}, localTime(x.time)), h("td", {}, `${x.transport} ${x.signal}`), h("td", {}, x.status), h("td", {}, x.reason)));
    view.append(h("h3", {}, "Recent refusals"), h("table", { class: "refusals", id: "refusals" }, body));
  }
}

/** Where the dashboard reads from: this machine's store or an organisation's ClickHouse. */
function sourceSection(source: SourceInfo): HTMLElement {
  const current = source.kind === "clickhouse" ? `ClickHouse ${source.location}` : "this machine's store";
  const status = h("span", { class: "hint", id: "source-status", role: "status" }, `Now: ${current}.`);
  const warning = h("p", { class: "warning", id: "source-warning", role: "alert" }, source.warning ?? "");
  warning.hidden = !source.warning;
  const url = h("input", { type: "text", id: "source-url", size: 46, placeholder: "clickhouses://user@host:8443/otel", value: source.kind === "clickhouse" ? source.location : "", "aria-label": "ClickHouse URL" });
  const password = h("input", { type: "password", id: "source-password", placeholder: "password (if any)", autocomplete: "off", "aria-label": "ClickHouse password" });
  const choose = async (body: { url: string; password?: string }) => {
    status.textContent = body.url ? "Connecting…" : "Switching…";
    try {
      const now = await sendJson<SourceInfo>("/api/source", body);
      status.textContent = `Now: ${now.kind === "clickhouse" ? `ClickHouse ${now.location}` : "this machine's store"}.`;
      warning.textContent = now.warning ?? "";
      warning.hidden = !now.warning;
      password.value = "";
      flash(now.kind === "clickhouse" ? "The dashboard now shows the organisation's ClickHouse." : "The dashboard now shows this machine's store.");
    } catch (error) {
      status.textContent = error instanceof Error ? error.message : String(error);
    }
  };
  const useClickHouse = h("button", { type: "button", id: "source-save", onclick: () => void choose({ url: url.value.trim(), password: password.value }) }, "Use ClickHouse");
  const useLocal = h("button", { type: "button", id: "source-local", onclick: () => void choose({ url: "" }) }, "Use this machine");
  const section = h("section", { class: "guide", id: "data-source" },
    h("h3", {}, "Data source"),
    h("p", { class: "hint" }, "The dashboard shows this machine's telemetry, or a whole organisation's from the ClickHouse its OpenTelemetry Collector writes (clickhouseexporter tables). This machine keeps receiving either way. The password is saved in the data directory, readable only by you."));
  append(section, warning);
  if (source.locked) {
    append(section, h("p", {}, `Chosen on the command line: ${current}.`));
    return section;
  }
  append(section, url, " ", password, " ", useClickHouse, " ", useLocal, h("p", {}, status));
  return section;
}

// ---------------------------------------------------------------------------------------------
// Routing and live updates

function route(): { page: string; arg: string } {
  const [, page = "overview", ...rest] = location.hash.split("/");
  return { page: page || "overview", arg: decodeURIComponent(rest.join("/")) };
}

let rendering: Promise<void> = Promise.resolve();
function render(): void {
  refreshRange();
  const { page, arg } = route();
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.getAttribute("href") === `#/${page}`);
  (document.getElementById("toolbar") as HTMLElement).hidden = page === "settings";
  rendering = rendering.then(async () => {
    try {
      if (page === "events") await renderEvents();
      else if (page === "sessions") await renderSessions();
      else if (page === "session") await renderSession(view, arg);
      else if (page === "receiver") await renderReceiver();
      else if (page === "fleet") await renderFleet();
      else if (page === "settings") await renderSettings(view, flash);
      else await renderOverview();
      document.body.dataset.rendered = String(Date.now());
    } catch (error) {
      clear(view);
      view.append(errorBox(error));
    }
  });
}

/** When the newest stored record was made (for empty charts), kept current by the live feed. */
let newestRecord: string | null = null;

let liveTimer = 0;
function connectLive(): void {
  const refresh = () => {
    status.className = "live on pulse";
    window.clearTimeout(liveTimer);
    // Charts and tables update in place shortly after the commit lands.
    liveTimer = window.setTimeout(() => {
      status.className = "live on";
      const page = route().page;
      if (page === "overview" && view.querySelector("section.charts")) {
        refreshRange();
        rendering = rendering.then(() => refreshOverview()).catch((error) => flash(error instanceof Error ? error.message : String(error)));
      } else if (page !== "events" && page !== "settings") {
        render();
      }
    }, 150);
  };
  liveFeed(
    (name) => {
      if (name === "commit" || name === "reload") {
        getJson<ReceiverInfo>("/api/receiver").then((info) => { newestRecord = info.newest_record; }, () => undefined);
        refresh();
      }
    },
    (connected) => {
      status.textContent = connected ? "live" : "reconnecting…";
      status.className = connected ? "live on" : "live off";
    },
  );
}

async function init(): Promise<void> {
  applyTheme();
  if (!launchToken) {
    append(view, h("div", { class: "error", role: "alert", id: "no-token" }, "This page needs ccscope's launch token: open the address `ccscope serve` printed (it ends in ?token=…), or the ccscope app."));
    return;
  }
  buildToolbar();
  try {
    const info = await getJson<ReceiverInfo>("/api/receiver");
    receiverHttp = info.http;
    newestRecord = info.newest_record;
  } catch {
    receiverHttp = null;
  }
  window.addEventListener("hashchange", render);
  render();
  connectLive();
}

void init();

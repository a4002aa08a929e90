// The managed-settings page (#/settings): forms for Claude Code's managed-settings.json (or a
// drop-in), a raw JSON editor kept in sync with them, field-level findings from the server's
// validator, the exact diff and SHA-256 to approve, the elevated write through the settings
// helper, backups with restore, and this machine's effective settings with their sources.

import { getJson, postDownload, sendForOutcome, sendJson } from "./api";
import { append, clear, download, h } from "./dom";
import {
  PERMISSION_TOOLS,
  addRule,
  buildRule,
  canonicalText,
  fieldFor,
  formatPairs,
  getAt,
  lines,
  parsePairs,
  pointerOf,
  setAt,
  type Finding,
  type Json,
  type JsonObject,
  type Pair,
} from "./logic/settings";

// ---------------------------------------------------------------------------------------------
// Server shapes

interface SourceInfo {
  kind: string;
  level: string;
  label: string;
  path: string | null;
  status: "absent" | "loaded" | "invalid";
  error?: string;
  keys: number;
  in_effect: boolean;
}

interface EffectiveInfo {
  pointer: string;
  value: Json;
  source: string;
  level: string;
  also: { source: string; value: Json; note: string }[];
}

interface BackupInfo {
  id: string;
  target: string;
  time: string;
  bytes: number;
}

interface SettingsState {
  platform: string;
  managed_dir: string;
  managed_behavior: string;
  target: string;
  path: string;
  exists: boolean;
  text: string | null;
  document: JsonObject | null;
  parse_error: string | null;
  drop_ins: string[];
  sources: SourceInfo[];
  legacy: { path: string; why: string }[];
  managed_mcp: string | null;
  effective: EffectiveInfo[];
  backups: BackupInfo[];
  elevation: string;
  helper: string | null;
  helper_error: string | null;
  receiver_env: Record<string, string> | null;
}

interface Preview {
  target: string;
  path: string;
  exists: boolean;
  proposed: string;
  sha256: string;
  /** SHA-256 of the file the preview was made from, or "absent": the apply is refused if the
   *  file changed since. */
  current_sha256: string;
  unchanged: boolean;
  diff: string;
  report: { errors: Finding[]; warnings: Finding[] };
}

/** Findings about settings that run commands on every user's machine (see the validator). */
function commandFindings(p: Preview): Finding[] {
  return p.report.warnings.filter((f) => f.message.includes("runs commands on the machine of every user"));
}

interface SchemaProp {
  type?: string | string[];
  enum?: Json[];
  items?: SchemaProp;
  description?: string;
}

interface SchemaInfo {
  schema: { properties: Record<string, SchemaProp> };
  keys: { key: string; managed_only: boolean; note: string }[];
}

interface ApplyResult {
  status: "applied" | "refused" | "cancelled" | "not_authorised" | "failed";
  message: string;
  detail?: { report?: { issues?: Finding[] } };
}

// ---------------------------------------------------------------------------------------------
// Page state

let target = "managed-settings.json";
let doc: JsonObject = {};
let state: SettingsState | null = null;
let schemaInfo: SchemaInfo | null = null;
let preview: Preview | null = null;
let fields = new Map<string, HTMLElement>();
let previewTimer = 0;
let previewSeq = 0;
let formsEl: HTMLElement;
let rawEl: HTMLTextAreaElement;
let rawError: HTMLElement;
let flashMessage: (message: string) => void = () => {};
let genericFilter = "";
let project = "";

const MANAGED = "managed-settings.json";

// ---------------------------------------------------------------------------------------------
// Changes flow: forms -> doc -> raw editor + preview; raw editor -> doc -> forms + preview.

function set(pointer: string, value: Json | undefined): void {
  setAt(doc, pointer, value);
  syncRaw();
  schedulePreview();
}

function syncRaw(): void {
  if (rawEl && document.activeElement !== rawEl) rawEl.value = canonicalText(doc);
}

function schedulePreview(delay = 250): void {
  window.clearTimeout(previewTimer);
  const result = document.getElementById("apply-result");
  if (result && result.dataset.status !== "pending") {
    clear(result);
    result.className = "apply-result";
    delete result.dataset.status;
  }
  previewTimer = window.setTimeout(() => void runPreview(), delay);
}

async function runPreview(): Promise<void> {
  const seq = ++previewSeq;
  const status = document.getElementById("settings-status");
  if (status) status.textContent = "checking…";
  try {
    const result = await sendJson<Preview>("/api/settings/preview", { target, document: doc });
    if (seq !== previewSeq) return;
    preview = result;
    showPreview();
  } catch (error) {
    if (status) status.textContent = error instanceof Error ? error.message : String(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Fields

function field(pointer: string, label: string, control: Node, hint?: string): HTMLElement {
  const id = `f-${pointer.replace(/[^A-Za-z0-9]/g, "_")}`;
  if (control instanceof HTMLElement && !control.id) control.id = id;
  const el = h("div", { class: "field", "data-pointer": pointer },
    h("label", { for: control instanceof HTMLElement ? control.id : id }, label),
    control,
    hint ? h("div", { class: "hint" }, hint) : null,
    h("div", { class: "field-error", role: "alert" }));
  fields.set(pointer, el);
  return el;
}

function str(pointer: string): string {
  const v = getAt(doc, pointer);
  return typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v);
}

function choice(pointer: string, label: string, options: [string, string][], hint?: string): HTMLElement {
  const current = getAt(doc, pointer);
  const currentText = current === undefined ? "" : typeof current === "string" ? current : JSON.stringify(current);
  const el = h("select", {});
  el.append(h("option", { value: "" }, "(not set)"));
  for (const [value, text] of options) el.append(h("option", { value, selected: value === currentText }, text));
  if (currentText !== "" && !options.some(([v]) => v === currentText)) el.append(h("option", { value: currentText, selected: true }, `${currentText} (as in the file)`));
  el.addEventListener("change", () => set(pointer, el.value === "" ? undefined : el.value));
  return field(pointer, label, el, hint);
}

function boolField(pointer: string, label: string, hint?: string): HTMLElement {
  const current = getAt(doc, pointer);
  const el = h("select", {});
  for (const [value, text] of [["", "(not set)"], ["true", "true"], ["false", "false"]] as const) {
    el.append(h("option", { value, selected: current === undefined ? value === "" : String(current) === value }, text));
  }
  el.addEventListener("change", () => set(pointer, el.value === "" ? undefined : el.value === "true"));
  return field(pointer, label, el, hint);
}

function textField(pointer: string, label: string, opts: { placeholder?: string; hint?: string; number?: boolean; jsonNumber?: boolean } = {}): HTMLElement {
  const current = getAt(doc, pointer);
  const el = h("input", { type: opts.number || opts.jsonNumber ? "number" : "text", placeholder: opts.placeholder ?? "", value: current === undefined ? "" : String(current) });
  el.addEventListener("input", () => {
    const v = el.value.trim();
    if (v === "") set(pointer, undefined);
    else if (opts.jsonNumber) set(pointer, Number(v));
    else set(pointer, v);
  });
  return field(pointer, label, el, opts.hint);
}

/** A switch stored as a disable marker ("disable") or absent. */
function markerField(pointer: string, label: string, marker: string, hint?: string): HTMLElement {
  const el = h("input", { type: "checkbox", checked: getAt(doc, pointer) === marker });
  el.addEventListener("change", () => set(pointer, el.checked ? marker : undefined));
  return field(pointer, label, el, hint);
}

function listField(pointer: string, label: string, hint?: string): HTMLElement {
  const current = getAt(doc, pointer);
  const el = h("textarea", { rows: 3, placeholder: "one per line" });
  el.value = Array.isArray(current) ? current.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("\n") : current === undefined ? "" : JSON.stringify(current);
  el.addEventListener("input", () => {
    const items = lines(el.value);
    set(pointer, items.length === 0 ? undefined : items);
  });
  return field(pointer, label, el, hint);
}

function jsonField(pointer: string, label: string, hint?: string): HTMLElement {
  const current = getAt(doc, pointer);
  const el = h("textarea", { rows: 3, class: "mono", placeholder: "JSON value" });
  el.value = current === undefined ? "" : JSON.stringify(current, null, 2);
  const wrapper = field(pointer, label, el, hint);
  el.addEventListener("input", () => {
    const slot = wrapper.querySelector(".field-error") as HTMLElement;
    if (el.value.trim() === "") {
      slot.textContent = "";
      set(pointer, undefined);
      return;
    }
    try {
      const value = JSON.parse(el.value) as Json;
      slot.textContent = "";
      set(pointer, value);
    } catch (error) {
      slot.textContent = `not JSON yet: ${error instanceof Error ? error.message : String(error)}`;
      slot.className = "field-error error";
    }
  });
  return wrapper;
}

/** Key/value rows stored as `k=v,…` in an env variable (headers, resource attributes). */
function pairsField(name: string, label: string, opts: { mask?: boolean; keyHint: string; valueHint: string; hint?: string }): HTMLElement {
  const pointer = pointerOf("env", name);
  let pairs: Pair[] = parsePairs(str(pointer));
  const rows = h("div", { class: "pairs" });
  const save = () => set(pointer, formatPairs(pairs) === "" ? undefined : formatPairs(pairs));
  const draw = () => {
    clear(rows);
    pairs.forEach((pair, i) => {
      const key = h("input", { type: "text", value: pair.key, placeholder: opts.keyHint, "aria-label": `${label} key ${i + 1}` });
      const value = h("input", { type: opts.mask ? "password" : "text", value: pair.value, placeholder: opts.valueHint, "aria-label": `${label} value ${i + 1}`, autocomplete: "off" });
      key.addEventListener("input", () => { pair.key = key.value; save(); });
      value.addEventListener("input", () => { pair.value = value.value; save(); });
      const row = h("div", { class: "pair" }, key, value);
      if (opts.mask) {
        row.append(h("button", { type: "button", title: "show or hide the value", onclick: () => { value.type = value.type === "password" ? "text" : "password"; } }, "show"));
      }
      row.append(h("button", { type: "button", title: "remove", onclick: () => { pairs = pairs.filter((p) => p !== pair); save(); draw(); } }, "✕"));
      rows.append(row);
    });
    rows.append(h("button", { type: "button", class: "add", onclick: () => { pairs.push({ key: "", value: "" }); draw(); } }, "+ add"));
  };
  draw();
  return field(pointer, label, rows, opts.hint);
}

function section(id: string, title: string, open: boolean, ...children: (Node | string | null)[]): HTMLElement {
  const el = h("details", { class: "settings-section", id: `section-${id}`, open }, h("summary", {}, title));
  append(el, ...children);
  return el;
}

// ---------------------------------------------------------------------------------------------
// Sections

const SWITCH: [string, string][] = [["1", "on"], ["0", "off"]];
const FLAG: [string, string][] = [["true", "true"], ["false", "false"]];
const TELEMETRY_ENV = new Set([
  "CLAUDE_CODE_ENABLE_TELEMETRY", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_LOG_USER_PROMPTS", "OTEL_LOG_ASSISTANT_RESPONSES",
  "OTEL_LOG_TOOL_DETAILS", "OTEL_METRICS_INCLUDE_SESSION_ID", "OTEL_METRICS_INCLUDE_VERSION", "OTEL_METRICS_INCLUDE_ACCOUNT_UUID",
  "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_LOGS_EXPORT_INTERVAL", "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
  "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "OTEL_METRICS_INCLUDE_REPOSITORY", "OTEL_LOG_MANAGED_SETTINGS",
]);

function telemetrySection(): HTMLElement {
  const env = (name: string) => pointerOf("env", name);
  const useReceiver = state?.receiver_env
    ? h("button", {
        type: "button",
        id: "use-receiver",
        onclick: () => {
          const receiver = state?.receiver_env ?? {};
          for (const [k, v] of Object.entries(receiver)) setAt(doc, env(k), v);
          if (getAt(doc, env("CLAUDE_CODE_ENABLE_TELEMETRY")) === undefined) setAt(doc, env("CLAUDE_CODE_ENABLE_TELEMETRY"), "1");
          for (const k of ["OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"]) if (getAt(doc, env(k)) === undefined) setAt(doc, env(k), "otlp");
          renderForms();
          syncRaw();
          schedulePreview(0);
        },
      }, "Use this machine's ccscope receiver")
    : null;
  const tracesOn = h("button", {
    type: "button",
    id: "traces-on",
    title: "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1 and OTEL_TRACES_EXPORTER=otlp",
    onclick: () => {
      setAt(doc, env("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"), "1");
      setAt(doc, env("OTEL_TRACES_EXPORTER"), "otlp");
      renderForms();
      syncRaw();
      schedulePreview(0);
    },
  }, "Turn on traces (waterfalls)");
  return section("telemetry", "Telemetry", true,
    h("div", { class: "grid" },
      choice(env("CLAUDE_CODE_ENABLE_TELEMETRY"), "Send telemetry (CLAUDE_CODE_ENABLE_TELEMETRY)", SWITCH, "master switch; default off"),
      choice(env("OTEL_LOG_USER_PROMPTS"), "Log prompt text (OTEL_LOG_USER_PROMPTS)", SWITCH, "default off: prompts are exported as lengths only"),
      choice(env("OTEL_LOG_ASSISTANT_RESPONSES"), "Log response text (OTEL_LOG_ASSISTANT_RESPONSES)", SWITCH, "default: follows prompt logging"),
      choice(env("OTEL_LOG_TOOL_DETAILS"), "Log tool details (OTEL_LOG_TOOL_DETAILS)", SWITCH, "parameters, MCP/skill names, errors; default off"),
      choice(env("OTEL_METRICS_INCLUDE_SESSION_ID"), "Include session.id (OTEL_METRICS_INCLUDE_SESSION_ID)", FLAG, "default true; false lowers metric cardinality"),
      choice(env("OTEL_METRICS_INCLUDE_VERSION"), "Include app.version (OTEL_METRICS_INCLUDE_VERSION)", FLAG, "default false"),
      choice(env("OTEL_METRICS_INCLUDE_ACCOUNT_UUID"), "Include account UUID (OTEL_METRICS_INCLUDE_ACCOUNT_UUID)", FLAG, "default true"),
      choice(env("OTEL_METRICS_EXPORTER"), "Metrics exporter", [["otlp", "otlp"], ["prometheus", "prometheus"], ["console", "console"], ["none", "none"], ["otlp,prometheus", "otlp + prometheus"]]),
      choice(env("OTEL_LOGS_EXPORTER"), "Events (logs) exporter", [["otlp", "otlp"], ["console", "console"], ["none", "none"]]),
      choice(env("OTEL_TRACES_EXPORTER"), "Traces exporter (beta)", [["otlp", "otlp"], ["console", "console"], ["none", "none"]], "with spans on: otlp sends them; ccscope draws each prompt's waterfall"),
      choice(env("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"), "Spans (CLAUDE_CODE_ENHANCED_TELEMETRY_BETA)", SWITCH,
        "where each prompt's time went (model, tools, waiting for you): about 2 spans per model request and 3 per tool call, 1–2 KB each — a few times the events' volume"),
      choice(env("OTEL_METRICS_INCLUDE_REPOSITORY"), "Include the repository (OTEL_METRICS_INCLUDE_REPOSITORY)", FLAG,
        "default false; adds vcs.repository.* (from git origin) to metrics and events: cost by repository, one series per repository (cardinality), and repository names leave the machine"),
      choice(env("OTEL_LOG_MANAGED_SETTINGS"), "Report managed settings (OTEL_LOG_MANAGED_SETTINGS)", SWITCH,
        "default off; adds a redacted snapshot of the managed policy and its digest to managed_settings_resolved: which policy each machine runs (values redacted; ignored in project files)"),
      choice(env("OTEL_EXPORTER_OTLP_PROTOCOL"), "OTLP protocol", [["http/protobuf", "http/protobuf"], ["http/json", "http/json"], ["grpc", "grpc"]]),
      textField(env("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTLP endpoint", { placeholder: "https://otel.example.com:4318", hint: "base URL; /v1/<signal> is appended over HTTP" }),
      textField(env("OTEL_METRIC_EXPORT_INTERVAL"), "Metric export interval (ms)", { number: true, placeholder: "60000" }),
      textField(env("OTEL_LOGS_EXPORT_INTERVAL"), "Event export interval (ms)", { number: true, placeholder: "5000" }),
      choice(env("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"), "Metric temporality", [["delta", "delta"], ["cumulative", "cumulative"]], "Claude Code's default is delta")),
    h("div", { class: "actions" }, useReceiver, " ", tracesOn),
    pairsField("OTEL_EXPORTER_OTLP_HEADERS", "Headers", { mask: true, keyHint: "Authorization", valueHint: "Bearer …", hint: "sent with every export; values are masked here and percent-encoded in the file" }),
    textField(pointerOf("otelHeadersHelper"), "Headers helper (otelHeadersHelper)", { placeholder: "/usr/local/bin/otel-token", hint: "a program printing a JSON object of headers, re-run every 29 minutes: short-lived tokens instead of a static header; HTTP protocols only (gRPC sends the static headers)" }),
    h("p", { class: "hint", id: "telemetry-managed-note" }, "Set in managed settings, the endpoint governs every signal (Claude Code 2.1.217 and later): developers' per-signal endpoints and protocols are dropped, and with managed headers their endpoints too. Across admin sources the OTLP settings, OTEL_LOG_* and the headers helper come whole from the highest source that sets any of them; other variables merge one by one."),
    pairsField("OTEL_RESOURCE_ATTRIBUTES", "Resource attributes", { keyHint: "department", valueHint: "engineering", hint: "W3C Baggage: key=value pairs on every metric and event; spaces and symbols are percent-encoded" }),
    otherEnvField());
}

function otherEnvField(): HTMLElement {
  const pointer = "/env";
  const envObj = getAt(doc, pointer);
  const rows = h("div", { class: "pairs" });
  const entries = (): [string, string][] => Object.entries(envObj && typeof envObj === "object" && !Array.isArray(envObj) ? (envObj as JsonObject) : {})
    .filter(([k]) => !TELEMETRY_ENV.has(k))
    .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]);
  let others = entries();
  const save = () => {
    const current = getAt(doc, pointer);
    const base: JsonObject = {};
    if (current && typeof current === "object" && !Array.isArray(current)) {
      for (const [k, v] of Object.entries(current)) if (TELEMETRY_ENV.has(k)) base[k] = v as Json;
    }
    for (const [k, v] of others) if (k.trim() !== "") base[k.trim()] = v;
    set(pointer, Object.keys(base).length === 0 ? undefined : base);
  };
  const draw = () => {
    clear(rows);
    others.forEach((entry, i) => {
      const key = h("input", { type: "text", value: entry[0], placeholder: "NAME", "aria-label": `variable ${i + 1}` });
      const value = h("input", { type: "text", value: entry[1], placeholder: "value", "aria-label": `variable ${i + 1} value` });
      key.addEventListener("input", () => { entry[0] = key.value; save(); });
      value.addEventListener("input", () => { entry[1] = value.value; save(); });
      rows.append(h("div", { class: "pair" }, key, value, h("button", { type: "button", onclick: () => { others = others.filter((e) => e !== entry); save(); draw(); } }, "✕")));
    });
    rows.append(h("button", { type: "button", class: "add", onclick: () => { others.push(["", ""]); draw(); } }, "+ add"));
  };
  draw();
  const el = field("/env", "Other environment variables", rows, "every other env entry for Claude Code sessions (OTEL_EXPORTER_OTLP_*_ENDPOINT per signal, proxies, …)");
  return el;
}

function rulesField(list: "allow" | "ask" | "deny"): HTMLElement {
  const pointer = pointerOf("permissions", list);
  const current = getAt(doc, pointer);
  let rules: string[] = Array.isArray(current) ? current.filter((r): r is string => typeof r === "string") : [];
  const chips = h("ul", { class: "chips", id: `rules-${list}` });
  const draw = () => {
    clear(chips);
    rules.forEach((rule) => chips.append(h("li", {}, h("code", {}, rule), h("button", { type: "button", title: `remove ${rule}`, onclick: () => { rules = rules.filter((r) => r !== rule); set(pointer, rules.length ? rules : undefined); draw(); } }, "✕"))));
  };
  draw();
  return field(pointer, list === "allow" ? "Allow" : list === "ask" ? "Ask" : "Deny", chips);
}

function permissionsSection(): HTMLElement {
  const tool = h("select", { id: "rule-tool", "aria-label": "tool" });
  for (const t of PERMISSION_TOOLS) tool.append(h("option", { value: t }, t));
  tool.append(h("option", { value: "mcp__" }, "MCP tool (mcp__server__tool)"));
  const mcp = h("input", { type: "text", id: "rule-mcp", placeholder: "mcp__server or mcp__server__tool", hidden: true, "aria-label": "MCP tool" });
  tool.addEventListener("change", () => { mcp.hidden = tool.value !== "mcp__"; });
  const spec = h("input", { type: "text", id: "rule-specifier", placeholder: "specifier, e.g. npm run * or ./.env (optional)", "aria-label": "specifier" });
  const list = h("select", { id: "rule-list", "aria-label": "rule list" }, h("option", { value: "deny" }, "deny"), h("option", { value: "ask" }, "ask"), h("option", { value: "allow" }, "allow"));
  const add = h("button", {
    type: "button",
    id: "rule-add",
    onclick: () => {
      const name = tool.value === "mcp__" ? mcp.value.trim() : tool.value;
      if (name === "" || name === "mcp__") { flashMessage("Name the MCP server (mcp__server)."); return; }
      const pointer = pointerOf("permissions", list.value);
      const current = getAt(doc, pointer);
      const rules = Array.isArray(current) ? current.filter((r): r is string => typeof r === "string") : [];
      set(pointer, addRule(rules, buildRule(name, spec.value)));
      spec.value = "";
      renderForms();
    },
  }, "Add rule");
  return section("permissions", "Permissions", false,
    h("div", { class: "rule-builder" }, list, tool, mcp, spec, add),
    h("div", { class: "grid" }, rulesField("deny"), rulesField("ask"), rulesField("allow")),
    h("div", { class: "grid" },
      choice("/permissions/defaultMode", "Default mode", [["default", "default"], ["acceptEdits", "acceptEdits"], ["plan", "plan"], ["auto", "auto"], ["dontAsk", "dontAsk"], ["bypassPermissions", "bypassPermissions"]]),
      markerField("/permissions/disableBypassPermissionsMode", "Disable bypass-permissions mode", "disable"),
      markerField("/permissions/disableAutoMode", "Disable auto mode", "disable"),
      boolField("/allowManagedPermissionRulesOnly", "Only managed permission rules", "ignore allow/ask/deny rules from user and project files"),
      boolField("/permissions/denyInsteadOfPrompting", "Deny instead of prompting"),
      listField("/permissions/additionalDirectories", "Additional directories")));
}

function mcpEntriesField(pointer: string, label: string): HTMLElement {
  const current = getAt(doc, pointer);
  let entries: JsonObject[] = Array.isArray(current) ? current.filter((e): e is JsonObject => !!e && typeof e === "object" && !Array.isArray(e)) : [];
  const rows = h("div", { class: "pairs" });
  const save = () => set(pointer, entries.length ? entries : undefined);
  const draw = () => {
    clear(rows);
    entries.forEach((entry, i) => {
      const kind = Object.keys(entry)[0] ?? "serverName";
      const kindSel = h("select", { "aria-label": `${label} ${i + 1} kind` }, ...["serverName", "serverCommand", "serverUrl"].map((k) => h("option", { value: k, selected: k === kind }, k)));
      const raw = entry[kind];
      const value = h("input", { type: "text", value: Array.isArray(raw) ? raw.join(" ") : String(raw ?? ""), "aria-label": `${label} ${i + 1} value`, placeholder: "name, command words, or URL pattern" });
      const update = () => {
        const v = value.value.trim();
        const replacement: JsonObject = {};
        replacement[kindSel.value] = kindSel.value === "serverCommand" ? v.split(/\s+/).filter((x) => x !== "") : v;
        entries[i] = replacement;
        save();
      };
      kindSel.addEventListener("change", update);
      value.addEventListener("input", update);
      rows.append(h("div", { class: "pair" }, kindSel, value, h("button", { type: "button", onclick: () => { entries = entries.filter((_, j) => j !== i); save(); draw(); } }, "✕")));
    });
    rows.append(h("button", { type: "button", class: "add", onclick: () => { entries.push({ serverName: "" }); draw(); } }, "+ add"));
  };
  draw();
  return field(pointer, label, rows);
}

function mcpSection(): HTMLElement {
  return section("mcp", "MCP server policy", false, h("div", { class: "grid" },
    boolField("/allowManagedMcpServersOnly", "Only the managed allowlist counts", "fails closed: an invalid value counts as true"),
    boolField("/enableAllProjectMcpServers", "Approve every project .mcp.json server"),
    mcpEntriesField("/allowedMcpServers", "Allowed MCP servers"),
    mcpEntriesField("/deniedMcpServers", "Denied MCP servers")));
}

function loginSection(): HTMLElement {
  return section("login", "Login and model policy", false, h("div", { class: "grid" },
    choice("/forceLoginMethod", "Login method", [["claudeai", "Claude subscription (claudeai)"], ["console", "Console API (console)"], ["gateway", "Cloud gateway"]]),
    listField("/forceLoginOrgUUID", "Allowed organisation UUIDs", "fails closed: an empty or invalid list blocks every login"),
    textField("/model", "Default model", { placeholder: "e.g. claude-sonnet-4-5" }),
    listField("/availableModels", "Available models (allowlist)"),
    boolField("/enforceAvailableModels", "Enforce the allowlist for the default model"),
    listField("/deniedModels", "Denied models")));
}

function hooksSection(): HTMLElement {
  return section("hooks", "Hooks policy", false, h("div", { class: "grid" },
    boolField("/allowManagedHooksOnly", "Only managed hooks run"),
    boolField("/disableAllHooks", "Disable all hooks and the status line"),
    listField("/allowedHttpHookUrls", "Allowed HTTP hook URLs"),
    listField("/httpHookAllowedEnvVars", "Env variables HTTP hooks may use"),
    jsonField("/hooks", "Hooks (JSON)", "event → [{matcher, hooks: [{type, command}]}]")));
}

function sandboxSection(): HTMLElement {
  return section("sandbox", "Sandbox", false, h("div", { class: "grid" },
    boolField("/sandbox/enabled", "Sandbox Bash commands"),
    boolField("/sandbox/failIfUnavailable", "Fail when the sandbox is unavailable"),
    boolField("/sandbox/allowUnsandboxedCommands", "Allow unsandboxed commands"),
    boolField("/sandbox/network/allowManagedDomainsOnly", "Only managed network domains"),
    listField("/sandbox/network/allowedDomains", "Allowed domains"),
    listField("/sandbox/network/deniedDomains", "Denied domains"),
    listField("/sandbox/filesystem/denyRead", "Deny reading"),
    listField("/sandbox/filesystem/denyWrite", "Deny writing"),
    listField("/sandbox/filesystem/allowWrite", "Allow writing")));
}

function announcementsSection(): HTMLElement {
  return section("announcements", "Announcements and updates", false, h("div", { class: "grid" },
    listField("/companyAnnouncements", "Company announcements", "one is shown at startup"),
    textField("/requiredMinimumVersion", "Required minimum version", { placeholder: "2.1.300" }),
    textField("/requiredMaximumVersion", "Required maximum version"),
    choice("/autoUpdatesChannel", "Update channel", [["latest", "latest"], ["stable", "stable"], ["rc", "rc"]]),
    textField("/cleanupPeriodDays", "Keep transcripts (days)", { jsonNumber: true, placeholder: "30" })));
}

const COVERED = new Set([
  "env", "permissions", "allowManagedPermissionRulesOnly", "allowManagedMcpServersOnly", "enableAllProjectMcpServers", "allowedMcpServers",
  "deniedMcpServers", "forceLoginMethod", "forceLoginOrgUUID", "model", "availableModels", "enforceAvailableModels", "deniedModels",
  "allowManagedHooksOnly", "disableAllHooks", "allowedHttpHookUrls", "httpHookAllowedEnvVars", "hooks", "sandbox", "companyAnnouncements",
  "requiredMinimumVersion", "requiredMaximumVersion", "autoUpdatesChannel", "cleanupPeriodDays", "otelHeadersHelper", "$schema",
]);

function genericField(key: string, prop: SchemaProp, managedOnly: boolean): HTMLElement {
  const pointer = pointerOf(key);
  const label = managedOnly ? `${key} (managed only)` : key;
  const hint = (prop.description ?? "").split("\n")[0]?.slice(0, 160);
  const type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
  if (prop.enum && prop.enum.every((v) => typeof v === "string")) return choice(pointer, label, prop.enum.map((v) => [String(v), String(v)]), hint);
  if (type === "boolean") return boolField(pointer, label, hint);
  if (type === "integer" || type === "number") return textField(pointer, label, { jsonNumber: true, hint });
  if (type === "string") return textField(pointer, label, { hint });
  if (type === "array" && prop.items?.type === "string" && !prop.items.enum) return listField(pointer, label, hint);
  return jsonField(pointer, label, hint);
}

function genericSection(): HTMLElement {
  const props = schemaInfo?.schema.properties ?? {};
  const managedOnly = new Set((schemaInfo?.keys ?? []).filter((k) => k.managed_only).map((k) => k.key));
  const filter = h("input", { type: "search", id: "generic-filter", placeholder: "filter keys…", value: genericFilter, "aria-label": "filter keys" });
  const list = h("div", { class: "grid generic" });
  const keys = Object.keys(props).filter((k) => !COVERED.has(k)).sort((a, b) => a.localeCompare(b));
  // Keys in the document the schema does not know are still shown (and kept).
  const unknown = Object.keys(doc).filter((k) => !COVERED.has(k) && !(k in props));
  for (const key of [...unknown, ...keys]) {
    const el = key in props ? genericField(key, props[key] as SchemaProp, managedOnly.has(key)) : jsonField(pointerOf(key), `${key} (unknown key, kept as is)`);
    el.dataset.key = key.toLowerCase();
    el.hidden = genericFilter !== "" && !key.toLowerCase().includes(genericFilter) && getAt(doc, pointerOf(key)) === undefined;
    list.append(el);
  }
  filter.addEventListener("input", () => {
    genericFilter = filter.value.trim().toLowerCase();
    for (const el of list.querySelectorAll<HTMLElement>(".field")) {
      const key = el.dataset.key ?? "";
      el.hidden = genericFilter !== "" && !key.includes(genericFilter);
    }
  });
  const el = section("other", `All other keys (${keys.length})`, unknown.length > 0 || genericFilter !== "", filter, list);
  if (unknown.length > 0) el.dataset.forceOpen = "true";
  return el;
}

function renderForms(): void {
  const openSections = new Set([...formsEl.querySelectorAll("details[open]")].map((d) => d.id));
  const hadForms = formsEl.childElementCount > 0;
  clear(formsEl);
  fields = new Map();
  append(formsEl, telemetrySection(), permissionsSection(), loginSection(), mcpSection(), hooksSection(), sandboxSection(), announcementsSection(), genericSection());
  if (hadForms) {
    for (const d of formsEl.querySelectorAll<HTMLDetailsElement>("details")) d.open = openSections.has(d.id) || d.dataset.forceOpen === "true";
  }
  if (preview) showFindings(preview);
}

// ---------------------------------------------------------------------------------------------
// Preview, findings, apply

function diffNode(diff: string): HTMLElement {
  const pre = h("pre", { class: "diff", id: "settings-diff" });
  for (const line of diff.split("\n")) {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : "";
    pre.append(h("span", { class: cls }, line + "\n"));
  }
  return pre;
}

function showFindings(p: Preview): void {
  for (const el of fields.values()) {
    el.classList.remove("invalid", "warned");
    const slot = el.querySelector(".field-error");
    if (slot) clear(slot);
  }
  const problems = document.getElementById("settings-problems");
  if (problems) clear(problems);
  const keys = [...fields.keys()];
  for (const f of [...p.report.errors, ...p.report.warnings]) {
    const text = `${f.severity === "error" ? "✖" : "⚠"} ${f.message}${f.consequence && f.severity === "error" ? ` (${f.consequence})` : ""}`;
    const at = fieldFor(f.pointer, keys);
    const el = at ? fields.get(at) : undefined;
    if (el) {
      el.classList.add(f.severity === "error" ? "invalid" : "warned");
      el.querySelector(".field-error")?.append(h("div", { class: f.severity, "data-pointer": f.pointer }, text));
    } else if (problems) {
      problems.append(h("li", { class: f.severity, "data-pointer": f.pointer }, f.pointer ? h("code", {}, f.pointer) : "document", " ", text));
    }
  }
  if (problems && problems.childElementCount === 0) {
    const total = p.report.errors.length + p.report.warnings.length;
    problems.append(h("li", { class: "hint" }, total === 0 ? "No errors or warnings." : "All findings are shown at their fields."));
  }
}

function showPreview(): void {
  if (!preview) return;
  const p = preview;
  showFindings(p);
  const holder = document.getElementById("settings-diff-holder");
  if (holder) {
    clear(holder);
    const commands = commandFindings(p);
    if (commands.length > 0 && !p.unchanged) {
      // Above the diff, where the admin approves it: these keys run code on every machine.
      holder.append(h("div", { class: "command-warning", id: "settings-command-warning", role: "alert" },
        h("strong", {}, "This policy runs commands on every machine it reaches: "),
        commands.map((f) => f.pointer.slice(1)).join(", "),
        ". Review each command as code you deploy."));
    }
    holder.append(p.unchanged ? h("p", { class: "hint", id: "settings-diff" }, "No change: the file already has exactly this content.") : diffNode(p.diff));
  }
  const sha = document.getElementById("settings-sha");
  if (sha) sha.textContent = p.unchanged ? "" : `SHA-256 of the new file: ${p.sha256}`;
  const status = document.getElementById("settings-status");
  const errors = p.report.errors.length;
  if (status) {
    status.textContent = errors > 0 ? `${errors} error(s) — fix them to apply` : p.unchanged ? "up to date" : `ready to write ${p.path}`;
    status.className = errors > 0 ? "status error" : "status";
  }
  const apply = document.getElementById("settings-apply") as HTMLButtonElement | null;
  if (apply) apply.disabled = errors > 0 || p.unchanged;
}

async function apply(): Promise<void> {
  if (!preview || preview.report.errors.length > 0) return;
  const result = document.getElementById("apply-result") as HTMLElement;
  const button = document.getElementById("settings-apply") as HTMLButtonElement;
  button.disabled = true;
  result.className = "apply-result pending";
  result.dataset.status = "pending";
  result.textContent = state?.elevation === "direct" ? "Writing…" : "Waiting for the administrator prompt…";
  try {
    const outcome = await sendForOutcome<ApplyResult>("/api/settings/apply", { target, text: preview.proposed, sha256: preview.sha256, expect_current_sha256: preview.current_sha256 });
    await showOutcome(outcome);
  } catch (error) {
    result.className = "apply-result failed";
    result.textContent = error instanceof Error ? error.message : String(error);
    button.disabled = false;
  }
}

async function showOutcome(outcome: ApplyResult): Promise<void> {
  const issues = outcome.detail?.report?.issues ?? [];
  if (outcome.status === "applied") {
    await reload();
  }
  const result = document.getElementById("apply-result") as HTMLElement;
  result.className = `apply-result ${outcome.status}`;
  result.dataset.status = outcome.status;
  clear(result);
  append(result, outcome.message, ...issues.map((i) => h("div", { class: "error" }, `${i.pointer}: ${i.message}`)));
}

async function restore(id: string): Promise<void> {
  if (!window.confirm(`Restore ${id}? The current file is backed up first.`)) return;
  const result = document.getElementById("apply-result") as HTMLElement;
  result.className = "apply-result pending";
  result.dataset.status = "pending";
  result.textContent = state?.elevation === "direct" ? "Restoring…" : "Waiting for the administrator prompt…";
  const outcome = await sendForOutcome<ApplyResult>("/api/settings/restore", { backup: id });
  await showOutcome(outcome);
}

// ---------------------------------------------------------------------------------------------
// Page

function rawEditor(): HTMLElement {
  rawEl = h("textarea", { id: "raw-json", class: "mono", rows: 18, spellcheck: false, "aria-label": "raw JSON" });
  rawEl.value = canonicalText(doc);
  rawError = h("div", { class: "field-error error", id: "raw-error", role: "alert" });
  rawEl.addEventListener("input", () => {
    try {
      const parsed = JSON.parse(rawEl.value) as Json;
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the top level must be an object { … }");
      rawError.textContent = "";
      doc = parsed as JsonObject;
      renderForms();
      schedulePreview();
    } catch (error) {
      rawError.textContent = `Not valid JSON: ${error instanceof Error ? error.message : String(error)} — the forms keep the last valid version.`;
    }
  });
  rawEl.addEventListener("blur", () => { if (rawError.textContent === "") rawEl.value = canonicalText(doc); });
  return h("div", {}, h("h3", {}, "JSON"), rawEl, rawError);
}

function targetPicker(s: SettingsState): HTMLElement {
  const sel = h("select", { id: "settings-target", "aria-label": "file to edit" });
  const names = [MANAGED, ...s.drop_ins.map((d) => `managed-settings.d/${d}`)];
  if (!names.includes(target)) names.push(target);
  for (const n of names) sel.append(h("option", { value: n, selected: n === target }, n));
  sel.addEventListener("change", () => { target = sel.value; void renderSettingsInto(); });
  const fresh = h("input", { type: "text", id: "new-drop-in", placeholder: "new drop-in, e.g. 50-telemetry.json", "aria-label": "new drop-in name" });
  const open = h("button", { type: "button", onclick: () => {
    const name = fresh.value.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.json$/.test(name) || name.includes("..")) { flashMessage("A drop-in name is letters, digits, '.', '_' or '-', ending in .json."); return; }
    target = `managed-settings.d/${name}`;
    void renderSettingsInto();
  } }, "Open");
  return h("div", { class: "target-picker" }, h("label", { for: "settings-target" }, "Editing "), sel, " or ", fresh, open);
}

function machineSection(s: SettingsState): HTMLElement {
  const sourcesBody = h("tbody");
  for (const src of s.sources) {
    const stateText = src.status === "loaded" ? (src.in_effect ? "in effect" : "ignored (first-wins)") : src.status === "invalid" ? `invalid: ${src.error ?? ""}` : "absent";
    sourcesBody.append(h("tr", { class: src.status }, h("td", {}, src.label), h("td", {}, src.level), h("td", {}, stateText), h("td", { class: "num" }, src.keys), h("td", { class: "path" }, src.path ?? "")));
  }
  const effBody = h("tbody");
  for (const e of s.effective) {
    const also = e.also.map((a) => `${a.source}: ${JSON.stringify(a.value)} (${a.note})`).join("; ");
    effBody.append(h("tr", { "data-pointer": e.pointer }, h("td", {}, h("code", {}, e.pointer)), h("td", { class: "value" }, JSON.stringify(e.value)), h("td", {}, e.source), h("td", { class: "also" }, also)));
  }
  const projectInput = h("input", { type: "text", id: "settings-project", value: project, placeholder: "/path/to/a/project (optional)", "aria-label": "project directory" });
  const projectRow = h("div", { class: "target-picker" },
    h("label", { for: "settings-project" }, "Include a project's .claude/settings.json and settings.local.json: "),
    projectInput,
    h("button", { type: "button", id: "settings-project-apply", onclick: () => {
      project = projectInput.value.trim();
      void renderSettingsInto().catch((e) => {
        project = "";
        flashMessage(e instanceof Error ? e.message : String(e));
      });
    } }, "Show"));
  return section("machine", "This machine: sources and effective settings", true,
    h("p", { class: "hint" }, `Platform ${s.platform}; managed sources ${s.managed_behavior}. Highest priority first.`),
    projectRow,
    ...s.legacy.map((l) => h("p", { class: "warning" }, `${l.path} still exists: ${l.why}`)),
    s.managed_mcp ? h("p", { class: "hint" }, `${s.managed_mcp} exists: only its MCP servers load.`) : "",
    h("table", { class: "sources", id: "settings-sources" }, h("thead", {}, h("tr", {}, h("th", {}, "Source"), h("th", {}, "Level"), h("th", {}, "State"), h("th", { class: "num" }, "Keys"), h("th", {}, "Path"))), sourcesBody),
    s.effective.length === 0
      ? h("p", { class: "hint" }, "No settings anywhere: Claude Code runs with its defaults.")
      : h("table", { class: "effective", id: "settings-effective" }, h("thead", {}, h("tr", {}, h("th", {}, "Setting"), h("th", {}, "Value"), h("th", {}, "From"), h("th", {}, "Also set by"))), effBody));
}

/** The file names of the fleet exports (as the server names them). */
const EXPORTS: [string, string, string][] = [
  ["mobileconfig", "macOS profile (.mobileconfig)", "claude-code.mobileconfig"],
  ["reg", "Windows registry, HKLM policy (.reg)", "claude-code-policy.reg"],
  ["ps1", "Intune platform script (.ps1)", "Set-ClaudeCodePolicy.ps1"],
  ["json", "Drop-in for managed-settings.d (.json)", "50-policy.json"],
];

/** "Deploy to a fleet": the document in the forms as the file an MDM (Jamf, Intune, Group
 *  Policy) or a file-based rollout deploys. The server validates it first, as Apply does. */
function deploySection(): HTMLElement {
  const format = h("select", { id: "export-format", "aria-label": "export format" },
    ...EXPORTS.map(([value, label]) => h("option", { value }, label)));
  const org = h("input", { type: "text", id: "export-org", placeholder: "organisation (profile only)", "aria-label": "organisation" });
  const status = h("span", { id: "export-status", class: "status", role: "status" });
  const button = h("button", { type: "button", id: "export-download" }, "Download");
  button.addEventListener("click", () => {
    const chosen = EXPORTS.find(([value]) => value === format.value);
    if (!chosen) return;
    button.disabled = true;
    status.textContent = "";
    postDownload("/api/settings/export", { document: doc, format: chosen[0], organization: org.value })
      .then((blob) => {
        download(chosen[2], blob);
        status.textContent = `Exported ${chosen[2]}.`;
      })
      .catch((error) => { status.textContent = error instanceof Error ? error.message : String(error); })
      .finally(() => { button.disabled = false; });
  });
  return h("div", { id: "settings-deploy", class: "deploy" },
    h("h3", {}, "Deploy to a fleet"),
    h("p", { class: "hint" }, "These settings as the file your MDM or rollout tool deploys; checked with the same rules as Apply."),
    h("div", { class: "apply-row" }, format, org, button),
    status);
}

function backupsSection(s: SettingsState): HTMLElement {
  const body = h("tbody");
  for (const b of s.backups) {
    body.append(h("tr", {}, h("td", {}, new Date(b.time).toLocaleString()), h("td", {}, b.target), h("td", { class: "num" }, b.bytes),
      h("td", {}, h("button", { type: "button", class: "restore", "data-id": b.id, onclick: () => void restore(b.id) }, "Restore"))));
  }
  return h("div", { id: "settings-backups" }, h("h3", {}, "Backups"),
    s.backups.length === 0 ? h("p", { class: "hint" }, "None yet: the helper keeps the last 10 versions of each file it replaces.") : h("table", {}, body));
}

async function reload(): Promise<void> {
  await renderSettingsInto();
}

let viewEl: HTMLElement;

async function renderSettingsInto(): Promise<void> {
  const params = new URLSearchParams({ target });
  if (project !== "") params.set("project", project);
  const [s, schema] = await Promise.all([getJson<SettingsState>("/api/settings", params), schemaInfo ? Promise.resolve(schemaInfo) : getJson<SchemaInfo>("/api/settings/schema")]);
  state = s;
  schemaInfo = schema;
  target = s.target;
  doc = s.document ?? {};
  preview = null;
  clear(viewEl);
  formsEl = h("div", { class: "settings-forms", id: "settings-forms" });
  const elevation = s.elevation === "direct" ? "runs as root: writes directly" : s.elevation === "pkexec" ? "asks for an administrator password (pkexec)" : s.elevation === "osascript" ? "asks for an administrator password (macOS)" : "asks for administrator approval (UAC)";
  append(viewEl,
    h("h2", {}, "Managed settings"),
    targetPicker(s),
    h("p", { class: "hint", id: "settings-path" }, `${s.path} — ${s.exists ? "exists" : "does not exist yet"}; applying ${elevation}.`),
    s.helper_error ? h("p", { class: "warning" }, s.helper_error) : "",
    s.parse_error ? h("p", { class: "warning" }, `The current file is not valid JSON (${s.parse_error}); the forms start empty and applying replaces it.`) : "",
    h("div", { class: "settings-layout" },
      formsEl,
      h("aside", { class: "settings-side" },
        rawEditor(),
        h("h3", {}, "Findings"),
        h("ul", { class: "problems", id: "settings-problems" }),
        h("h3", {}, "Change to write"),
        h("div", { id: "settings-diff-holder" }),
        h("p", { class: "hint mono", id: "settings-sha" }),
        h("div", { class: "apply-row" },
          h("button", { type: "button", id: "settings-apply", class: "primary", disabled: true, onclick: () => void apply() }, "Apply"),
          h("span", { id: "settings-status", class: "status", role: "status" })),
        h("div", { id: "apply-result", class: "apply-result", role: "status" }),
        deploySection(),
        backupsSection(s))),
    machineSection(s));
  renderForms();
  await runPreview();
}

/** Renders the settings page into `view`. */
export async function renderSettings(view: HTMLElement, flash: (message: string) => void): Promise<void> {
  viewEl = view;
  flashMessage = flash;
  await renderSettingsInto();
}

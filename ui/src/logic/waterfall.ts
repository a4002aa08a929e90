// A prompt's waterfall as rows: each span (those under a collapsed span left out) with its
// depth, its bar to the prompt's scale (percent of the prompt's duration), what kind of work it
// is, the time to first token on model requests, and a tool's bar split into waiting for the
// developer and running. Pure: the page draws what this returns.

import type { PromptTraceDoc, SpanDoc } from "../generated/api";

export type SpanKind = "prompt" | "model" | "tool" | "waiting" | "running" | "other";

export interface Segment {
  kind: "waiting" | "running";
  left: number;
  width: number;
}

export interface Row {
  span: SpanDoc;
  depth: number;
  hasChildren: boolean;
  collapsed: boolean;
  kind: SpanKind;
  label: string;
  /** Where the bar starts and how wide it is, in percent of the prompt's duration. */
  left: number;
  width: number;
  durationMs: number;
  /** Time to first token, in percent of the prompt's duration from its start (model requests). */
  ttft?: number;
  ttftMs?: number;
  segments: Segment[];
  error: boolean;
}

/** The narrowest bar drawn, in percent, so that a 0 ms span still shows. */
export const MIN_BAR = 0.4;

export function kindOf(name: string): SpanKind {
  switch (name) {
    case "claude_code.interaction": return "prompt";
    case "claude_code.llm_request": return "model";
    case "claude_code.tool": return "tool";
    case "claude_code.tool.blocked_on_user": return "waiting";
    case "claude_code.tool.execution": return "running";
    default: return "other";
  }
}

function text(span: SpanDoc, key: string): string | null {
  const v = span.attributes[key];
  return typeof v === "string" && v !== "" ? v : null;
}

function num(span: SpanDoc, key: string): number | null {
  const v = span.attributes[key];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** A span failed: OTLP status error, `success: false`, or an error attribute. */
export function isError(span: SpanDoc): boolean {
  const success = span.attributes["success"];
  return span.status_code === 2 || success === false || success === "false" || text(span, "error") !== null;
}

/** What a row says: the model and who asked for it, the tool and its command class, … */
export function labelOf(span: SpanDoc): string {
  const kind = kindOf(span.name);
  if (kind === "prompt") {
    const n = num(span, "interaction.sequence");
    return n === null ? "prompt" : `prompt ${n}`;
  }
  if (kind === "model") {
    const parts = [text(span, "model") ?? text(span, "gen_ai.request.model") ?? "model"];
    const source = text(span, "query_source_safe") ?? text(span, "query_source");
    if (source && source !== "sdk" && source !== "main" && source !== "repl_main_thread") parts.push(`(${source})`);
    const attempt = num(span, "attempt");
    if (attempt !== null && attempt > 1) parts.push(`attempt ${attempt}`);
    return parts.join(" ");
  }
  if (kind === "tool") {
    const name = text(span, "tool_name_safe") ?? text(span, "tool_name") ?? "tool";
    const cls = text(span, "bash_command_class");
    const agent = text(span, "agent.name") ?? text(span, "subagent_type");
    return [name, cls ? `(${cls})` : "", agent ? `→ ${agent}` : ""].filter(Boolean).join(" ");
  }
  if (kind === "waiting") {
    const decision = text(span, "decision");
    return decision ? `waiting for you (${decision})` : "waiting for you";
  }
  if (kind === "running") return "running";
  return span.name.replace(/^claude_code\./, "");
}

function place(startNs: number, endNs: number, prompt: PromptTraceDoc): { left: number; width: number } {
  const total = Math.max(1, prompt.end_ns - prompt.start_ns);
  const left = Math.min(100, Math.max(0, ((startNs - prompt.start_ns) / total) * 100));
  const width = Math.max(MIN_BAR, Math.min(100 - left, ((endNs - startNs) / total) * 100));
  return { left, width };
}

/** The rows to draw, in tree order, skipping the descendants of collapsed spans. */
export function rows(prompt: PromptTraceDoc, collapsed: ReadonlySet<string>): Row[] {
  const out: Row[] = [];
  const total = Math.max(1, prompt.end_ns - prompt.start_ns);
  const visit = (span: SpanDoc, depth: number): void => {
    const kind = kindOf(span.name);
    const { left, width } = place(span.start_ns, span.end_ns, prompt);
    const row: Row = {
      span,
      depth,
      hasChildren: span.children.length > 0,
      collapsed: collapsed.has(span.span_id),
      kind,
      label: labelOf(span),
      left,
      width,
      durationMs: (span.end_ns - span.start_ns) / 1e6,
      segments: [],
      error: isError(span),
    };
    if (kind === "model") {
      const ttft = num(span, "ttft_ms");
      if (ttft !== null) {
        row.ttftMs = ttft;
        row.ttft = Math.min(100, ((span.start_ns - prompt.start_ns + ttft * 1e6) / total) * 100);
      }
    }
    if (kind === "tool") {
      for (const child of span.children) {
        const k = kindOf(child.name);
        if (k === "waiting" || k === "running") row.segments.push({ kind: k, ...place(child.start_ns, child.end_ns, prompt) });
      }
    }
    out.push(row);
    if (!row.collapsed) for (const child of span.children) visit(child, depth + 1);
  };
  for (const span of prompt.spans) visit(span, 0);
  return out;
}

/** Every span of the prompt, in tree order (to find one by id). */
export function allSpans(prompt: PromptTraceDoc): SpanDoc[] {
  const out: SpanDoc[] = [];
  const visit = (s: SpanDoc): void => {
    out.push(s);
    s.children.forEach(visit);
  };
  prompt.spans.forEach(visit);
  return out;
}

/** A duration for people: "340 ms", "1.25 s", "2 m 05 s". */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(value / 60_000);
  const seconds = Math.round((value % 60_000) / 1000);
  return `${minutes} m ${String(seconds).padStart(2, "0")} s`;
}

/** Axis ticks for a span of `totalMs`: a 1-2-5 step giving at most `most` intervals. */
export function ticks(totalMs: number, most = 6): number[] {
  if (!(totalMs > 0)) return [0];
  const raw = totalMs / most;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let t = 0; t <= totalMs + 1e-9; t += step) out.push(Math.round(t * 1000) / 1000);
  return out;
}

/** The prompt's split as parts of its duration, largest first, without the empty ones. */
export function splitParts(prompt: PromptTraceDoc): { key: "model" | "tools" | "waiting_for_user" | "other"; label: string; ms: number; share: number }[] {
  const t = prompt.time_ms;
  const total = t.model + t.tools + t.waiting_for_user + t.other;
  const parts = [
    { key: "model" as const, label: "Model", ms: t.model },
    { key: "tools" as const, label: "Tools", ms: t.tools },
    { key: "waiting_for_user" as const, label: "Waiting for you", ms: t.waiting_for_user },
    { key: "other" as const, label: "Other", ms: t.other },
  ];
  return parts.filter((p) => p.ms > 0).map((p) => ({ ...p, share: total > 0 ? p.ms / total : 0 }));
}

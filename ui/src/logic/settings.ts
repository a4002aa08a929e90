// Pure helpers behind the managed-settings forms: JSON pointers into the working document,
// key/value lists as OTLP headers and W3C Baggage, permission rules, and canonical JSON text.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** RFC 6901 tokens of a pointer ("" is the whole document). */
export function tokens(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function pointerOf(...parts: string[]): string {
  return parts.map((p) => "/" + p.replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

export function getAt(doc: JsonObject, pointer: string): Json | undefined {
  let at: Json | undefined = doc;
  for (const t of tokens(pointer)) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return undefined;
    at = (at as JsonObject)[t];
  }
  return at;
}

/** Sets (or, with `undefined`, removes) the value at `pointer`, creating objects on the way and
 * removing objects that become empty. */
export function setAt(doc: JsonObject, pointer: string, value: Json | undefined): void {
  const path = tokens(pointer);
  if (path.length === 0) return;
  const parents: JsonObject[] = [doc];
  let at: JsonObject = doc;
  for (const t of path.slice(0, -1)) {
    let next = at[t];
    if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) {
      if (value === undefined) return;
      next = {};
      at[t] = next;
    }
    at = next as JsonObject;
    parents.push(at);
  }
  const last = path[path.length - 1] as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  // Drop containers the removal emptied.
  for (let i = parents.length - 1; i > 0; i--) {
    const parent = parents[i - 1] as JsonObject;
    const key = path[i - 1] as string;
    const child = parents[i] as JsonObject;
    if (Object.keys(child).length === 0) delete parent[key];
    else break;
  }
}

/** The canonical text ccscope writes: keys sorted at every level, 2-space indent, newline. */
export function canonicalText(doc: Json): string {
  const sort = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") {
      const out: JsonObject = {};
      for (const k of Object.keys(v).sort()) out[k] = sort((v as JsonObject)[k] as Json);
      return out;
    }
    return v;
  };
  return JSON.stringify(sort(doc), null, 2) + "\n";
}

export interface Pair {
  key: string;
  value: string;
}

/** Characters a Baggage/header value may carry unencoded: printable ASCII except , ; \ % and
 * space (and '=' to keep Claude Code's one-'=' rule). */
function safeChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !",;\\%= ".includes(c);
}

export function encodeValue(value: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(value)) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && safeChar(c) ? c : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

export function decodeValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** `k=v,k2=v2` into pairs with decoded values (OTLP headers and OTEL_RESOURCE_ATTRIBUTES). */
export function parsePairs(text: string | undefined): Pair[] {
  if (!text) return [];
  return text
    .split(",")
    .filter((p) => p.trim() !== "")
    .map((p) => {
      const at = p.indexOf("=");
      return at < 0 ? { key: p.trim(), value: "" } : { key: p.slice(0, at).trim(), value: decodeValue(p.slice(at + 1).trim()) };
    });
}

/** Pairs back into `k=v,…` with percent-encoded values; rows without a key are skipped. */
export function formatPairs(pairs: Pair[]): string {
  return pairs
    .filter((p) => p.key.trim() !== "")
    .map((p) => `${p.key.trim()}=${encodeValue(p.value)}`)
    .join(",");
}

/** Tools a permission rule can name (Claude Code 2.1.330 and SchemaStore). */
export const PERMISSION_TOOLS = [
  "Bash", "Read", "Edit", "Write", "MultiEdit", "NotebookEdit", "Glob", "Grep", "WebFetch", "WebSearch",
  "Agent", "Skill", "PowerShell", "LSP", "TodoWrite", "ToolSearch", "Monitor", "KillShell", "ExitPlanMode",
  "EnterWorktree", "Workflow", "TaskCreate", "TaskGet", "TaskList", "TaskOutput", "TaskStop", "TaskUpdate", "Cd", "Artifact",
];

/** Builds `Tool`, `Tool(specifier)` or an `mcp__…` rule from the builder's fields. */
export function buildRule(tool: string, specifier: string): string {
  const t = tool.trim();
  const s = specifier.trim();
  if (t.startsWith("mcp__")) return s ? `${t}(${s})` : t;
  return s ? `${t}(${s})` : t;
}

/** Adds `rule` to `list` unless present; returns the new list. */
export function addRule(list: string[], rule: string): string[] {
  return list.includes(rule) ? list : [...list, rule];
}

/** Lines of a textarea as a list (trimmed, blank lines dropped). */
export function lines(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

export interface Finding {
  severity: "error" | "warning";
  pointer: string;
  message: string;
  consequence?: string;
}

/** The registered field whose pointer is the longest prefix of the finding's pointer. */
export function fieldFor(pointer: string, fields: string[]): string | null {
  let best: string | null = null;
  for (const f of fields) {
    const matches = pointer === f || pointer.startsWith(f + "/");
    if (matches && (best === null || f.length > best.length)) best = f;
  }
  return best;
}

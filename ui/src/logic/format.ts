// Number, money, duration and change formatting for tiles and tables. Pure functions.

export function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

export function money(usd: number): string {
  return Math.abs(usd) >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? "–" : `${(ratio * 100).toFixed(1)}%`;
}

/** The change from `previous` to `current`: "+12%", "−5%", "new", or "" when both are zero. */
export function change(current: number, previous: number): { text: string; direction: "up" | "down" | "flat" } {
  if (previous === 0 && current === 0) return { text: "", direction: "flat" };
  if (previous === 0) return { text: "new", direction: "up" };
  const delta = (current - previous) / Math.abs(previous);
  if (Math.abs(delta) < 0.005) return { text: "±0%", direction: "flat" };
  const sign = delta > 0 ? "+" : "−";
  return { text: `${sign}${Math.abs(delta * 100).toFixed(0)}%`, direction: delta > 0 ? "up" : "down" };
}

/** A session or request id shortened for tables. */
export function shortId(id: string): string {
  return id.length > 10 ? id.slice(0, 8) : id;
}

export function localTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** `3 prompts`, `1 prompt`, with the count formatted; `many` defaults to `one` + "s". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${Math.round(n) === 1 ? one : many}`;
}

/** Local date and time to the second in a fixed width: `2026-11-30 19:15:09`. */
export function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** How long before `now` a time was: `just now`, `5 minutes ago`, `3 days ago`. */
export function ago(iso: string, now: number = Date.now()): string {
  const seconds = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 60) return "just now";
  for (const [unit, size] of [["day", 86_400], ["hour", 3_600], ["minute", 60]] as const) {
    if (seconds >= size) return `${plural(Math.floor(seconds / size), unit)} ago`;
  }
  return "just now";
}

/** A range that shows data last seen at `iso`: the smallest preset reaching back to it, or a
 *  custom range from a day before it to now. */
export function rangeReaching(iso: string, now: number = Date.now()): { preset: "today" | "7d" | "30d" | "custom"; fromMs: number; label: string } {
  const at = new Date(iso).getTime();
  const days = (now - at) / 86_400_000;
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  if (at >= midnight.getTime()) return { preset: "today", fromMs: midnight.getTime(), label: "today" };
  if (days < 7) return { preset: "7d", fromMs: now - 7 * 86_400_000, label: "the last 7 days" };
  if (days < 30) return { preset: "30d", fromMs: now - 30 * 86_400_000, label: "the last 30 days" };
  return { preset: "custom", fromMs: at - 86_400_000, label: `since ${shortTime(new Date(at - 86_400_000).toISOString()).slice(0, 10)}` };
}

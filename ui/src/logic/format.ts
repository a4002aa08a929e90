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

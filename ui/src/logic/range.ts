// Time ranges the dashboard offers, as Unix nanoseconds for the API (BigInt: nanoseconds do not
// fit a double exactly).

export type Preset = "1h" | "today" | "7d" | "30d" | "custom";

export interface Range {
  preset: Preset;
  fromMs: number;
  toMs: number;
}

const HOUR = 3_600_000;

/** The start of the (UTC) hour holding `ms`. The day presets start on a whole hour: their
 * first hourly bucket is whole, and an organisation's ClickHouse answers them from its hourly
 * summaries without reading the raw tables for a partial first hour. */
function hourStart(ms: number): number {
  return Math.floor(ms / HOUR) * HOUR;
}

export function presetRange(preset: Exclude<Preset, "custom">, nowMs: number): Range {
  switch (preset) {
    case "1h":
      return { preset, fromMs: nowMs - HOUR, toMs: nowMs };
    case "today": {
      const midnight = new Date(nowMs);
      midnight.setHours(0, 0, 0, 0);
      return { preset, fromMs: midnight.getTime(), toMs: nowMs };
    }
    case "7d":
      return { preset, fromMs: hourStart(nowMs - 7 * 24 * HOUR), toMs: nowMs };
    case "30d":
      return { preset, fromMs: hourStart(nowMs - 30 * 24 * HOUR), toMs: nowMs };
  }
}

export function toNs(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

/** Query parameters of a range and filters, with repeatable `attr`. */
export function rangeParams(range: Range, filters: Record<string, string>, attrs: string[]): URLSearchParams {
  const params = new URLSearchParams();
  params.set("from", toNs(range.fromMs));
  params.set("to", toNs(range.toMs));
  for (const [key, value] of Object.entries(filters)) {
    if (value.trim() !== "") params.set(key, value.trim());
  }
  for (const attr of attrs) {
    if (attr.includes("=")) params.append("attr", attr.trim());
  }
  return params;
}

// Where the money went: which attributes of Claude Code's cost points the overview splits the
// range's cost by, how their values read, and each split as ranked bars (the top few, then
// "others"). Pure: the overview draws what this returns.

import type { Attribution, CostSplit } from "../generated/api";

export interface SplitSpec {
  key: string;
  title: string;
  /** What the cost without the key is, in this split. */
  none: string;
}

/** The splits the overview shows, in order (Claude Code 2.1.33x puts these on cost points). */
export const SPLITS: SplitSpec[] = [
  { key: "query_source", title: "Who asked", none: "not attributed" },
  { key: "agent.name", title: "Subagents", none: "no subagent" },
  { key: "skill.name", title: "Skills", none: "no skill" },
  { key: "mcp_server.name", title: "MCP servers", none: "no MCP server" },
  { key: "mcp_tool.name", title: "MCP tools", none: "no MCP tool" },
  { key: "plugin.name", title: "Plugins", none: "no plugin" },
  { key: "effort", title: "Effort", none: "not set" },
];

const QUERY_SOURCES: Record<string, string> = {
  main: "main loop",
  subagent: "subagents",
  auxiliary: "auxiliary (titles, summaries, compaction)",
  plugin_model_complete: "plugins' model calls",
  plugin_model_classify: "plugins' classifications",
};

export function valueLabel(spec: SplitSpec, value: string | null): string {
  if (value === null) return spec.none;
  if (spec.key === "query_source") return QUERY_SOURCES[value] ?? value;
  return value;
}

export interface Bar {
  label: string;
  value: string | null;
  cost: number;
  /** Of the range's cost, 0–1. */
  share: number;
  others?: boolean;
}

/** The split's rows as bars: the `top` costliest named values, the rest as "others", and the
 *  cost without the key last. The bars add up to the split's total. */
export function bars(spec: SplitSpec, split: CostSplit, top = 6): Bar[] {
  const total = split.rows.reduce((s, r) => s + r.cost_usd, 0);
  const share = (cost: number) => (total > 0 ? cost / total : 0);
  const named = split.rows.filter((r) => r.value !== null);
  const none = split.rows.filter((r) => r.value === null).reduce((s, r) => s + r.cost_usd, 0);
  const out: Bar[] = named.slice(0, top).map((r) => ({ label: valueLabel(spec, r.value), value: r.value, cost: r.cost_usd, share: share(r.cost_usd) }));
  const rest = named.slice(top);
  if (rest.length > 0) {
    const cost = rest.reduce((s, r) => s + r.cost_usd, 0);
    out.push({ label: `${rest.length} others`, value: null, cost, share: share(cost), others: true });
  }
  if (none !== 0) out.push({ label: valueLabel(spec, null), value: null, cost: none, share: share(none) });
  return out;
}

/** Splits with some named value, and the titles of those without (said on one line). */
export function sortSplits(doc: Attribution): { shown: { spec: SplitSpec; split: CostSplit }[]; empty: string[] } {
  const shown: { spec: SplitSpec; split: CostSplit }[] = [];
  const empty: string[] = [];
  for (const spec of SPLITS) {
    const split = doc.splits.find((s) => s.key === spec.key);
    if (split && split.rows.some((r) => r.value !== null)) shown.push({ spec, split });
    else empty.push(spec.title);
  }
  return { shown, empty };
}

// Unit tests of the dashboard's pure logic (compiled from src/logic by `npm test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { change, count, duration, money, percent, shortId } from "../build-test/logic/format.js";
import { presetRange, rangeParams, toNs } from "../build-test/logic/range.js";
import { pageOf, visibleRows } from "../build-test/logic/virtual.js";

test("numbers, money and durations read well", () => {
  assert.equal(count(1234567.4), "1,234,567");
  assert.equal(money(0.01234), "$0.0123");
  assert.equal(money(12.5), "$12.50");
  assert.equal(duration(4.5), "4.5s");
  assert.equal(duration(192), "3m 12s");
  assert.equal(duration(3720), "1h 02m");
  assert.equal(percent(0.8333), "83.3%");
  assert.equal(percent(null), "–");
  assert.equal(shortId("3bd7072a-85ef-4fb0"), "3bd7072a");
});

test("changes against the previous period", () => {
  assert.deepEqual(change(12, 10), { text: "+20%", direction: "up" });
  assert.deepEqual(change(5, 10), { text: "−50%", direction: "down" });
  assert.deepEqual(change(3, 0), { text: "new", direction: "up" });
  assert.deepEqual(change(0, 0), { text: "", direction: "flat" });
  assert.deepEqual(change(10, 10), { text: "±0%", direction: "flat" });
});

test("ranges become exact nanosecond parameters", () => {
  assert.equal(toNs(1795492032168), "1795492032168000000");
  const now = Date.UTC(2026, 10, 24, 12, 0, 0);
  const hour = presetRange("1h", now);
  assert.equal(hour.toMs - hour.fromMs, 3_600_000);
  const week = presetRange("7d", now);
  assert.equal(week.toMs - week.fromMs, 7 * 86_400_000);
  // The day presets start on the hour: 30 days and the part of an hour that has passed.
  const month = presetRange("30d", now + 34 * 60_000);
  assert.equal(month.fromMs, now - 30 * 86_400_000);
  assert.equal(month.toMs, now + 34 * 60_000);
  const today = presetRange("today", now);
  assert.ok(today.fromMs <= now && now - today.fromMs < 86_400_000);
  const p = rangeParams(hour, { model: " claude ", user: "" }, ["department=eng", "junk"]);
  assert.equal(p.get("model"), "claude");
  assert.equal(p.get("user"), null);
  assert.deepEqual(p.getAll("attr"), ["department=eng"]);
});

test("only the rows in view are rendered", () => {
  assert.deepEqual(visibleRows(0, 300, 30, 1000, 0), { first: 0, last: 10, offsetPx: 0 });
  assert.deepEqual(visibleRows(3000, 300, 30, 1000, 5), { first: 95, last: 115, offsetPx: 2850 });
  assert.deepEqual(visibleRows(0, 300, 30, 4, 10), { first: 0, last: 4, offsetPx: 0 });
  assert.deepEqual(visibleRows(0, 300, 30, 0), { first: 0, last: 0, offsetPx: 0 });
  assert.equal(pageOf(199, 200), 0);
  assert.equal(pageOf(200, 200), 1);
});

import { addRule, buildRule, canonicalText, encodeValue, fieldFor, formatPairs, getAt, lines, parsePairs, pointerOf, setAt, tokens } from "../build-test/logic/settings.js";

test("pointers read, write and prune the working document", () => {
  const doc = { env: { A: "1" }, keep: true };
  assert.deepEqual(tokens(pointerOf("env", "a/b~c")), ["env", "a/b~c"]);
  setAt(doc, "/env/OTEL_LOG_USER_PROMPTS", "1");
  assert.equal(getAt(doc, "/env/OTEL_LOG_USER_PROMPTS"), "1");
  setAt(doc, "/permissions/deny", ["Bash(rm *)"]);
  assert.deepEqual(doc.permissions, { deny: ["Bash(rm *)"] });
  setAt(doc, "/permissions/deny", undefined);
  assert.equal(doc.permissions, undefined, "emptied objects are removed");
  setAt(doc, "/env/A", undefined);
  setAt(doc, "/env/OTEL_LOG_USER_PROMPTS", undefined);
  assert.deepEqual(doc, { keep: true });
  setAt(doc, "/nothing/here", undefined);
  assert.deepEqual(doc, { keep: true });
});

test("canonical text matches the Rust canonical form", () => {
  assert.equal(canonicalText({ z: 1, env: { B: "2", A: "1" }, list: [3, 1] }), '{\n  "env": {\n    "A": "1",\n    "B": "2"\n  },\n  "list": [\n    3,\n    1\n  ],\n  "z": 1\n}\n');
  assert.equal(canonicalText({}), "{}\n");
});

test("headers and resource attributes round-trip with percent-encoding", () => {
  const pairs = [{ key: "department", value: "R&D team" }, { key: "cost_center", value: "eng=42;x" }, { key: "", value: "ignored" }];
  const text = formatPairs(pairs);
  assert.equal(text, "department=R&D%20team,cost_center=eng%3D42%3Bx");
  assert.ok(!text.includes(" "));
  assert.deepEqual(parsePairs(text), pairs.slice(0, 2));
  assert.equal(encodeValue("Bearer tök"), "Bearer%20t%C3%B6k");
  assert.deepEqual(parsePairs("Authorization=Bearer%20abc"), [{ key: "Authorization", value: "Bearer abc" }]);
  assert.deepEqual(parsePairs(""), []);
});

test("the rule builder and lists", () => {
  assert.equal(buildRule("Bash", "npm run *"), "Bash(npm run *)");
  assert.equal(buildRule("Read", " "), "Read");
  assert.equal(buildRule("mcp__github", ""), "mcp__github");
  assert.deepEqual(addRule(["Read"], "Read"), ["Read"]);
  assert.deepEqual(addRule(["Read"], "Edit"), ["Read", "Edit"]);
  assert.deepEqual(lines(" a \n\n b\n"), ["a", "b"]);
});

test("findings land on the most specific field", () => {
  const fields = ["/env/OTEL_RESOURCE_ATTRIBUTES", "/permissions/deny", "/permissions"];
  assert.equal(fieldFor("/permissions/deny/0", fields), "/permissions/deny");
  assert.equal(fieldFor("/permissions/defaultMode", fields), "/permissions");
  assert.equal(fieldFor("/env/OTEL_RESOURCE_ATTRIBUTES", fields), "/env/OTEL_RESOURCE_ATTRIBUTES");
  assert.equal(fieldFor("/model", fields), null);
});

test("plurals, fixed-width times, ago and a range reaching the last data", async () => {
  const { plural, shortTime, ago, rangeReaching } = await import("../build-test/logic/format.js");
  assert.equal(plural(1, "prompt"), "1 prompt");
  assert.equal(plural(0, "prompt"), "0 prompts");
  assert.equal(plural(2500, "event"), "2,500 events");
  assert.equal(plural(1, "entry", "entries"), "1 entry");
  assert.match(shortTime("2026-11-30T19:15:09Z"), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const now = Date.parse("2026-11-30T12:00:00Z");
  assert.equal(ago("2026-11-30T11:59:30Z", now), "just now");
  assert.equal(ago("2026-11-30T11:00:00Z", now), "1 hour ago");
  assert.equal(ago("2026-11-27T12:00:00Z", now), "3 days ago");
  assert.equal(rangeReaching("2026-11-27T12:00:00Z", now).preset, "7d");
  assert.equal(rangeReaching("2026-11-10T12:00:00Z", now).preset, "30d");
  const old = rangeReaching("2026-08-01T12:00:00Z", now);
  assert.equal(old.preset, "custom");
  assert.ok(old.fromMs < Date.parse("2026-08-01T12:00:00Z"));
});

import { kindOf, labelOf, isError, rows, ticks, ms, splitParts, allSpans } from "../build-test/logic/waterfall.js";

function span(name, id, start, end, attributes = {}, children = [], status_code = 0) {
  return { name, span_id: id, parent_span_id: null, start_ns: start, end_ns: end, status_code, attributes, events: [], children };
}

test("a prompt's waterfall: bars to scale, the tool's wait apart, time to first token, collapsing", () => {
  const MS = 1e6;
  const tool = span("claude_code.tool", "t", 100 * MS, 300 * MS, { tool_name_safe: "Bash", bash_command_class: "read" }, [
    span("claude_code.tool.blocked_on_user", "w", 100 * MS, 200 * MS, { decision: "accept" }),
    span("claude_code.tool.execution", "x", 200 * MS, 300 * MS, { success: false }),
  ]);
  const root = span("claude_code.interaction", "p", 0, 1000 * MS, { "interaction.sequence": 2 }, [
    span("claude_code.llm_request", "m", 0, 100 * MS, { model: "claude-opus-5-5", ttft_ms: 40, query_source_safe: "agent:builtin:Explore", attempt: 2 }),
    tool,
  ]);
  const prompt = { prompt_id: "p1", prompt: null, start_ns: 0, end_ns: 1000 * MS, time_ms: { model: 100, tools: 100, waiting_for_user: 100, other: 700 }, spans: [root] };
  const all = rows(prompt, new Set());
  assert.deepEqual(all.map((r) => [r.label, r.depth, r.kind]), [
    ["prompt 2", 0, "prompt"],
    ["claude-opus-5-5 (agent:builtin:Explore) attempt 2", 1, "model"],
    ["Bash (read)", 1, "tool"],
    ["waiting for you (accept)", 2, "waiting"],
    ["running", 2, "running"],
  ]);
  const [, model, toolRow, , running] = all;
  assert.equal(model.left, 0);
  assert.equal(model.width, 10);
  assert.equal(model.ttft, 4);
  assert.equal(model.ttftMs, 40);
  assert.equal(toolRow.left, 10);
  assert.equal(toolRow.width, 20);
  assert.deepEqual(toolRow.segments, [{ kind: "waiting", left: 10, width: 10 }, { kind: "running", left: 20, width: 10 }]);
  assert.equal(running.error, true);
  assert.equal(toolRow.error, false);
  // Collapsing the tool hides its two children; collapsing the prompt hides everything below.
  assert.equal(rows(prompt, new Set(["t"])).length, 3);
  assert.equal(rows(prompt, new Set(["p"])).length, 1);
  assert.equal(rows(prompt, new Set(["t"]))[2].collapsed, true);
  assert.equal(allSpans(prompt).length, 5);
  // A 0 ms span is still drawn.
  const instant = rows({ ...prompt, spans: [span("claude_code.tool", "i", 500 * MS, 500 * MS)] }, new Set());
  assert.ok(instant[0].width > 0);
  assert.deepEqual(splitParts(prompt).map((p) => [p.key, p.share]), [["model", 0.1], ["tools", 0.1], ["waiting_for_user", 0.1], ["other", 0.7]]);
});

test("span kinds, errors, durations and axis ticks", () => {
  assert.equal(kindOf("claude_code.hook"), "other");
  assert.equal(labelOf(span("claude_code.hook", "h", 0, 1)), "hook");
  assert.equal(isError(span("x", "e", 0, 1, {}, [], 2)), true);
  assert.equal(isError(span("x", "e", 0, 1, { success: true })), false);
  assert.equal(ms(340.4), "340 ms");
  assert.equal(ms(1250), "1.25 s");
  assert.equal(ms(12_500), "12.5 s");
  assert.equal(ms(125_000), "2 m 05 s");
  assert.deepEqual(ticks(1000), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(ticks(537), [0, 100, 200, 300, 400, 500]);
  assert.deepEqual(ticks(0), [0]);
});

import { SPLITS, bars, sortSplits, valueLabel } from "../build-test/logic/attribution.js";

test("where the money went: ranked bars with others and the unattributed rest, adding up", () => {
  const who = SPLITS.find((s) => s.key === "query_source");
  const agents = SPLITS.find((s) => s.key === "agent.name");
  assert.equal(valueLabel(who, "main"), "main loop");
  assert.equal(valueLabel(who, "something_new"), "something_new");
  assert.equal(valueLabel(agents, null), "no subagent");
  const split = { key: "agent.name", rows: [
    { value: null, cost_usd: 5 },
    ...["a", "b", "c", "d"].map((v, i) => ({ value: v, cost_usd: 4 - i })),
  ] };
  const out = bars(agents, split, 2);
  assert.deepEqual(out.map((b) => [b.label, b.cost]), [["a", 4], ["b", 3], ["2 others", 3], ["no subagent", 5]]);
  assert.equal(out.reduce((s, b) => s + b.share, 0), 1);
  const { shown, empty } = sortSplits({ total_usd: 15, splits: [split, { key: "skill.name", rows: [{ value: null, cost_usd: 15 }] }] });
  assert.deepEqual(shown.map((s) => s.spec.key), ["agent.name"]);
  assert.ok(empty.includes("Skills") && empty.includes("Who asked"));
});

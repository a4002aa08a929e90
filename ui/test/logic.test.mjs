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

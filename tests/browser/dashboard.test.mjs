// The dashboard end to end: a real `ccscope serve` (target/debug/ccscope) fed the recorded Claude
// Code payloads over OTLP/HTTP, opened in Debian's Chromium through playwright-core. Tiles,
// charts, filters, live updates, the event explorer, session timelines and exports are checked
// against `ccscope report --json` (itself checked against the payloads by the Rust tests).
// Screenshots go to tests/artifacts/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.CCSCOPE_BIN ?? join(root, "target/debug/ccscope");
const fixtures = join(root, "tests/fixtures/claude-code-2.1.197");
const artifacts = join(root, "tests/artifacts");
mkdirSync(artifacts, { recursive: true });

let serve, dataDir, homeDir, httpAddr, uiUrl, uiOrigin, browser, page;

function startServe(dir) {
  const child = spawn(bin, ["serve", "--data-dir", dir, "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--ui", "127.0.0.1:0", "--retention-days", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
    // A home of its own, so the settings test writes there and not to the user's.
    env: { ...process.env, CCSCOPE_LOG: "warn", HOME: homeDir, CLAUDE_CONFIG_DIR: "" },
  });
  return new Promise((resolve, reject) => {
    const found = {};
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const l = line.trim();
      if (l.startsWith("OTLP/HTTP  listening on ")) found.http = l.slice("OTLP/HTTP  listening on ".length);
      if (l.startsWith("dashboard  ")) found.ui = l.slice("dashboard  ".length);
      if (found.http && found.ui) resolve({ child, ...found });
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    setTimeout(() => reject(new Error("serve did not start")), 30_000);
  });
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Replays every recorded HTTP request (JSON, protobuf, gzip) as it was sent. */
async function replayFixtures() {
  const metas = walk(fixtures).filter((p) => p.endsWith(".meta.json")).sort();
  let sent = 0;
  for (const metaPath of metas) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8"));
    if (meta.transport !== "http") continue;
    const stem = metaPath.slice(0, -".meta.json".length);
    const body = meta.content_encoding === "gzip" ? readFileSync(`${stem}.body.gz`) : meta.content_type === "application/json" ? readFileSync(`${stem}.json`) : readFileSync(`${stem}.pb`);
    const headers = { "content-type": meta.content_type };
    if (meta.content_encoding) headers["content-encoding"] = meta.content_encoding;
    const response = await fetch(`http://${httpAddr}${meta.path}`, { method: "POST", headers, body });
    assert.equal(response.status, 200, `${stem}: ${await response.text()}`);
    sent++;
  }
  assert.ok(sent >= 10, `replayed ${sent} exports`);
}

function report(...args) {
  return JSON.parse(execFileSync(bin, ["report", "--json", "--since", "all", "--data-dir", dataDir, ...args], { encoding: "utf8" }));
}

function money(usd) {
  return Math.abs(usd) >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/** Waits until the current view has rendered after `action`. */
async function rendered(action) {
  const before = await page.evaluate(() => document.body.dataset.rendered ?? "");
  await action();
  await page.waitForFunction((b) => (document.body.dataset.rendered ?? "") !== b, before, { timeout: 15_000 });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "ccscope-browser-"));
  homeDir = mkdtempSync(join(tmpdir(), "ccscope-home-"));
  mkdirSync(join(homeDir, ".claude"));
  writeFileSync(join(homeDir, ".claude/settings.json"), JSON.stringify({ model: "opus", env: { KEEP_ME: "yes" } }, null, 2));
  const started = await startServe(dataDir);
  serve = started.child;
  httpAddr = started.http;
  uiUrl = started.ui;
  uiOrigin = new URL(uiUrl).origin;
  await replayFixtures();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 }, timezoneId: "UTC" });
  page = await context.newPage();
  page.on("pageerror", (error) => assert.fail(`page error: ${error.message}`));
  page.on("console", (message) => { if (message.type() === "error") console.log(`browser: ${message.text()}`); });
});

after(async () => {
  await browser?.close();
  serve?.kill("SIGTERM");
});

test("without the launch token no data is served; no cookie carries it; Host and Origin are checked", async () => {
  // The page holds no data and loads without the token; every API route needs it.
  const anonymous = await fetch(`${uiOrigin}/`);
  assert.equal(anonymous.status, 200);
  assert.match(anonymous.headers.get("content-security-policy"), /script-src 'self'/);
  assert.equal((await fetch(`${uiOrigin}/api/receiver`)).status, 401);
  assert.equal((await fetch(`${uiOrigin}/?token=wrong`)).status, 401);
  const token = new URL(uiUrl).searchParams.get("token");
  const launch = await fetch(uiUrl, { redirect: "manual" });
  assert.equal(launch.status, 200);
  assert.equal(launch.headers.get("set-cookie"), null, "the token never goes into a cookie (cookies reach every port)");
  // A cookie with the token is not a credential.
  assert.equal((await fetch(`${uiOrigin}/api/receiver`, { headers: { cookie: `ccscope_session=${token}` } })).status, 401);
  const auth = { authorization: `Bearer ${token}` };
  assert.equal((await fetch(`${uiOrigin}/api/receiver`, { headers: auth })).status, 200);
  // DNS rebinding: a page on another name that resolves here is refused.
  const rebound = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: evil.example:80", "-H", `Authorization: Bearer ${token}`, `${uiOrigin}/api/receiver`], { encoding: "utf8" });
  assert.equal(rebound, "421");
  const crossOrigin = await fetch(`${uiOrigin}/api/receiver`, { headers: { ...auth, origin: "http://evil.example" } });
  assert.equal(crossOrigin.status, 403);
});

test("the overview shows what Claude Code sent, on tiles and charts", async () => {
  // Without the token the page says how to open it.
  await page.goto(uiOrigin + "/");
  await page.waitForSelector("#no-token");
  await rendered(() => page.goto(uiUrl));
  assert.equal(new URL(page.url()).search, "", "the token leaves the address bar");
  assert.equal((await page.context().cookies()).length, 0, "no cookie is set");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("ccscope.launch-token")), new URL(uiUrl).searchParams.get("token"));
  // All recorded sessions are from 2026-11-24: show 30 days around them via a custom range.
  const r = report();
  await rendered(async () => {
    await page.selectOption("#range", "custom");
    await page.fill("#from", "2026-11-01T00:00");
    await page.fill("#to", "2026-12-31T00:00");
    await page.click(".custom button");
  });
  await page.waitForSelector("#chart-cost svg");
  assert.equal(await page.textContent("#tile-cost .value"), money(r.cost_usd));
  assert.equal(await page.textContent("#tile-sessions .value"), String(r.sessions));
  const tokens = r.tokens.input + r.tokens.output + r.tokens.cacheRead + r.tokens.cacheCreation;
  assert.equal(Number(await page.getAttribute("#tile-tokens", "data-value")), tokens);
  assert.equal(Number(await page.getAttribute("#tile-commits", "data-value")), r.commits);
  // The cost chart's hover values add up to the total cost.
  const hoverCost = await page.$$eval("#chart-cost rect.hover title", (titles) =>
    titles.reduce((sum, t) => {
      const lines = t.textContent.split("\n").slice(1).filter((l) => !l.startsWith("total:"));
      return sum + lines.reduce((s, l) => s + Number(l.split(": $")[1] ?? 0), 0);
    }, 0));
  assert.ok(Math.abs(hoverCost - r.cost_usd) < 0.001, `chart ${hoverCost} vs report ${r.cost_usd}`);
  assert.ok((await page.$$("section.charts figure")).length >= 12);
  await page.waitForFunction(() => [...document.querySelectorAll("section.charts figure")].every((f) => f.querySelector("svg") || f.querySelector(".error") || f.querySelector(".empty-chart")));
  assert.deepEqual(await page.$$eval("section.charts .error", (e) => e.map((x) => x.textContent)), [], "every chart renders");
  await shot("overview-light");
});

test("the usage report downloads as HTML and Markdown with its charts", async () => {
  const r = report();
  const [html] = await Promise.all([page.waitForEvent("download"), page.click("#report-html")]);
  const page1 = readFileSync(await html.path(), "utf8");
  assert.match(page1, /^<!doctype html>/);
  assert.ok(page1.includes(`<td>Cost</td><td>${money(r.cost_usd)}</td>`), "total cost in the HTML report");
  assert.match(page1, /Cost per session/);
  assert.ok((page1.match(/<svg/g) ?? []).length >= 3, "charts embedded");
  assert.doesNotMatch(page1, /<script/);
  const [md] = await Promise.all([page.waitForEvent("download"), page.click("#report-md")]);
  const text = readFileSync(await md.path(), "utf8");
  assert.ok(text.includes(`| Cost | ${money(r.cost_usd)} |`), text.slice(0, 400));
  assert.match(text, /!\[Cost by model\]\(data:image\/svg\+xml;base64,/);
  writeFileSync(join(artifacts, "report.html"), page1);
});

test("filters narrow tiles and charts", async () => {
  const eng = report("--attr", "department=eng");
  await rendered(async () => {
    await page.fill("#filter-attr", "department=eng");
    await page.press("#filter-attr", "Enter");
  });
  await page.waitForSelector("#chart-cost svg");
  assert.equal(await page.textContent("#tile-sessions .value"), String(eng.sessions));
  assert.equal(await page.textContent("#tile-cost .value"), money(eng.cost_usd));
  await rendered(async () => {
    await page.fill("#filter-attr", "");
    await page.press("#filter-attr", "Enter");
  });
  await rendered(async () => {
    await page.fill("#filter-model", "no-such-model");
    await page.press("#filter-model", "Enter");
  });
  assert.equal(await page.textContent("#tile-cost .value"), "$0.0000");
  await rendered(async () => {
    await page.fill("#filter-model", "");
    await page.press("#filter-model", "Enter");
  });
});

test("charts group by a custom resource attribute", async () => {
  await rendered(async () => {
    await page.selectOption("#group", "attr");
    await page.fill("#group-attr", "department");
    await page.press("#group-attr", "Enter");
  });
  await page.waitForSelector("#chart-cost svg");
  const legend = await page.textContent("#chart-cost .legend");
  assert.match(legend, /eng/, legend);
  await rendered(() => page.selectOption("#group", ""));
});

test("the fleet view lists users and teams with their spend, and leads to a user's sessions", async () => {
  const all = report();
  await rendered(() => page.goto(`${uiOrigin}/#/fleet`));
  await page.waitForSelector("#fleet tbody tr");
  assert.equal(await page.textContent("#fleet-cost .value"), money(all.cost_usd));
  assert.ok(Number(await page.textContent("#fleet-users .value")) >= 1);
  assert.equal(await page.textContent("#fleet-sessions .value"), String(all.sessions));
  // Split by a team attribute: the eng row's cost is what the report says for department=eng.
  await rendered(async () => {
    await page.selectOption("#team", "attr");
    await page.fill("#team-attr", "department");
    await page.press("#team-attr", "Enter");
  });
  await page.waitForSelector('#fleet tr[data-key="eng"]');
  const eng = report("--attr", "department=eng");
  assert.equal(await page.textContent('#fleet tr[data-key="eng"] td:nth-child(5)'), money(eng.cost_usd));
  assert.equal(await page.textContent('#fleet tr[data-key="eng"] td:nth-child(3)'), String(eng.sessions));
  await page.waitForFunction(() => [...document.querySelectorAll("section.fleet-charts figure")].every((f) => f.querySelector("svg") || f.querySelector(".error") || f.querySelector(".empty-chart")));
  assert.deepEqual(await page.$$eval("section.fleet-charts .error", (e) => e.map((x) => x.textContent)), [], "every fleet chart renders");
  assert.match(await page.textContent("section.fleet-charts"), /Daily active users/);
  await shot("fleet");
  // By user: a user's name leads to their sessions.
  await rendered(() => page.selectOption("#team", "user"));
  const user = await page.getAttribute("#fleet tbody tr[data-key]:not([data-key='']) ", "data-key");
  const theirs = JSON.parse(execFileSync(bin, ["sessions", "--json", "--since", "all", "--user", user, "--data-dir", dataDir], { encoding: "utf8" }));
  await rendered(() => page.click(`#fleet tr[data-key="${user}"] a`));
  assert.equal(new URL(page.url()).hash, "#/sessions");
  assert.equal(await page.inputValue("#filter-user"), user);
  assert.equal((await page.$$("#sessions tbody tr")).length, theirs.length);
  await rendered(async () => {
    await page.fill("#filter-user", "");
    await page.press("#filter-user", "Enter");
  });
  await rendered(() => page.goto(`${uiOrigin}/#/overview`));
});

test("the dashboard switches to an organisation's ClickHouse and back, and a wrong password is said so", async () => {
  // The real ClickHouse engine (chdb) behind the test front, holding the tools turn as the
  // Collector's exporter writes it.
  const chDir = mkdtempSync(join(tmpdir(), "ccscope-ch-"));
  const front = spawn("python3", [join(root, "tests/clickhouse/front.py"), "--data", join(chDir, "db"), "--password", "pw"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise((resolve, reject) => {
      createInterface({ input: front.stdout }).on("line", (l) => { if (l.startsWith("listening on ")) resolve(l.slice(13)); });
      front.on("exit", (code) => reject(new Error(`front exited with ${code}`)));
    });
    const tools = join(fixtures, "http-json/tools");
    execFileSync("python3", [join(root, "tests/clickhouse/collector.py"), "--url", `http://127.0.0.1:${port}`, "--database", "otel", "--schema", "2026", "--create",
      ...readdirSync(tools).filter((n) => /^\d+-(logs|metrics)\.json$/.test(n)).map((n) => join(tools, n))], { env: { ...process.env, CH_PASSWORD: "pw" } });
    const url = `clickhouse://default@127.0.0.1:${port}/otel`;
    const org = JSON.parse(execFileSync(bin, ["report", "--json", "--since", "all", "--source", url], { encoding: "utf8", env: { ...process.env, CCSCOPE_CLICKHOUSE_PASSWORD: "pw" } }));
    const local = report();
    assert.notEqual(org.cost_usd, local.cost_usd, "the two sources differ, so the switch shows");
    await rendered(() => page.goto(`${uiOrigin}/#/receiver`));
    await page.fill("#source-url", url);
    await page.fill("#source-password", "wrong");
    await page.click("#source-save");
    await page.waitForFunction(() => /refused user/.test(document.querySelector("#source-status")?.textContent ?? ""));
    assert.doesNotMatch(await page.textContent("#source-status"), /wrong/);
    await page.fill("#source-password", "pw");
    await page.click("#source-save");
    await page.waitForFunction(() => /Now: ClickHouse/.test(document.querySelector("#source-status")?.textContent ?? ""));
    await rendered(() => page.goto(`${uiOrigin}/#/overview`));
    await page.waitForSelector("#tile-cost .value");
    assert.equal(await page.textContent("#tile-cost .value"), money(org.cost_usd));
    assert.equal(await page.textContent("#tile-sessions .value"), String(org.sessions));
    await shot("source-clickhouse");
    await rendered(() => page.goto(`${uiOrigin}/#/receiver`));
    assert.match(await page.textContent("#receiver"), /ClickHouse clickhouse:\/\/default@127\.0\.0\.1/);
    await page.click("#source-local");
    await page.waitForFunction(() => /Now: this machine/.test(document.querySelector("#source-status")?.textContent ?? ""));
    await rendered(() => page.goto(`${uiOrigin}/#/overview`));
    assert.equal(await page.textContent("#tile-cost .value"), money(local.cost_usd));
  } finally {
    front.kill();
  }
});

test("a new export appears without reloading", async () => {
  const before = Number(await page.getAttribute("#tile-sessions", "data-value"));
  const body = {
    resourceLogs: [{ scopeLogs: [{ logRecords: [{
      timeUnixNano: "1795492200000000000",
      body: { stringValue: "claude_code.api_request" },
      attributes: [
        { key: "session.id", value: { stringValue: "live-session-0001" } },
        { key: "event.name", value: { stringValue: "api_request" } },
        { key: "event.sequence", value: { intValue: 0 } },
        { key: "model", value: { stringValue: "claude-live-test" } },
        { key: "cost_usd", value: { doubleValue: 0.5 } },
        { key: "input_tokens", value: { intValue: 10 } },
      ],
    }] }] }],
  };
  const response = await fetch(`http://${httpAddr}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(response.status, 200);
  await page.waitForFunction((b) => Number(document.querySelector("#tile-sessions")?.getAttribute("data-value")) === b + 1, before, { timeout: 5_000 });
  await page.waitForFunction(() => document.querySelector("#by-model")?.textContent.includes("claude-live-test"), null, { timeout: 5_000 });
});

test("the event explorer filters, shows every attribute, and exports", async () => {
  const r = report();
  await rendered(() => page.goto(`${uiOrigin}/#/events`));
  await rendered(() => page.selectOption("#event-name", "api_request"));
  // The listing of the chosen name (the page's earlier render may still be finishing).
  const expected = `${r.events.api_request} ${r.events.api_request === 1 ? "event" : "events"}`;
  await page.waitForFunction((want) => {
    const rows = [...document.querySelectorAll("#event-list .row")];
    return document.querySelector("#event-count")?.textContent === want && rows.length > 0 && rows.every((row) => row.dataset.name === "api_request");
  }, expected);
  assert.equal(await page.textContent("#event-count"), expected);
  // Columns never overlap, at any width from 1024 px up; long names are cut with an ellipsis
  // and carry their full text as a tooltip.
  for (const width of [1024, 1280, 1440, 1920]) {
    await page.setViewportSize({ width, height: 1000 });
    const boxes = await page.$$eval("#event-list .row", (rows) => rows.slice(0, 20).map((row) =>
      [...row.children].map((c) => { const b = c.getBoundingClientRect(); return { left: b.left, right: b.right, title: c.getAttribute("title"), text: c.textContent, clipped: c.scrollWidth > c.clientWidth }; })));
    assert.ok(boxes.length > 0);
    for (const cells of boxes) {
      for (let i = 1; i < cells.length; i++) {
        assert.ok(cells[i - 1].right <= cells[i].left + 0.5, `${width}px: ${JSON.stringify(cells)}`);
      }
      assert.ok(cells.every((c) => c.title), `every cell has a tooltip: ${JSON.stringify(cells)}`);
      assert.ok(!cells[0].clipped, `${width}px: the time is shown whole: ${cells[0].text}`);
    }
  }
  await page.setViewportSize({ width: 1400, height: 1000 });
  assert.ok((await page.$$eval("#event-list .row", (rows) => rows.map((x) => x.dataset.name))).every((n) => n === "api_request"));
  // The oldest api_request is one Claude Code sent (the newest is this suite's own).
  // A locator, not an element handle: a live refresh may re-render the list under the click.
  await page.locator("#event-list .row").last().click();
  const detail = await page.textContent("#event-detail");
  for (const key of ["request_id", "session.id", "event.sequence", "cost_usd", "input_tokens", "service.name"]) {
    assert.ok(detail.includes(key), `${key} in ${detail}`);
  }
  await shot("events");
  const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#export-events-csv")]);
  const text = readFileSync(await csv.path(), "utf8").trim().split("\n");
  // The same columns as `ccscope export --format csv`.
  assert.equal(text[0], "time,time_ns,name,session_id,sequence,prompt_id,user_id,model,tool_name,cost_usd,duration_ms,success,status_code,attributes");
  assert.ok(text.length >= r.events.api_request + 1);
  const [json] = await Promise.all([page.waitForEvent("download"), page.click("#export-events-json")]);
  const list = JSON.parse(readFileSync(await json.path(), "utf8"));
  assert.equal(list.length, r.events.api_request);
});

test("telemetry text is shown as text, never run", async () => {
  const hostile = "<img src=x onerror=\"document.body.dataset.pwned=1\">";
  const body = {
    resourceLogs: [{ scopeLogs: [{ logRecords: [{
      timeUnixNano: "1795492201000000000",
      body: { stringValue: "claude_code.tool_result" },
      attributes: [
        { key: "session.id", value: { stringValue: "hostile-session" } },
        { key: "event.name", value: { stringValue: "tool_result" } },
        { key: "event.sequence", value: { intValue: 0 } },
        { key: "tool_name", value: { stringValue: hostile } },
      ],
    }] }] }],
  };
  assert.equal((await fetch(`http://${httpAddr}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).status, 200);
  await rendered(() => page.goto(`${uiOrigin}/#/session/hostile-session`));
  assert.match(await page.textContent("#timeline"), /onerror/);
  assert.equal(await page.$("#timeline img"), null);
  await rendered(() => page.goto(`${uiOrigin}/#/overview`));
  await page.waitForSelector("#chart-tools svg");
  assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
});

test("a chart with nothing in the range says so, when data was last seen, and shows it on request", async () => {
  await rendered(() => page.goto(`${uiOrigin}/#/receiver`));
  await rendered(() => page.goto(`${uiOrigin}/#/overview`));
  await rendered(async () => {
    await page.selectOption("#range", "custom");
    await page.fill("#from", "2020-01-01T00:00");
    await page.fill("#to", "2020-01-02T00:00");
    await page.click(".custom button");
  });
  await page.waitForSelector("#chart-cost .empty-chart");
  const text = await page.textContent("#chart-cost .empty-chart");
  assert.match(text, /No cost \(USD\) in this range\./);
  const newest = JSON.parse(execFileSync(bin, ["events", "--json", "--since", "all", "--newest-first", "--limit", "1", "--data-dir", dataDir], { encoding: "utf8" }).trim().split("\n")[0]);
  assert.match(text, /Last data (just now|\d+ (minute|hour|day)s? ago)/);
  assert.equal(await page.$$eval("#chart-cost svg", (s) => s.length), 0, "no empty grid");
  await shot("empty-range");
  // The offered range reaches the newest record: charts of its kind have data again.
  await rendered(() => page.click("#chart-cost .empty-chart button"));
  assert.notEqual(await page.inputValue("#range"), "custom-2020");
  await page.waitForFunction(() => document.querySelectorAll("section.charts figure svg").length > 0);
  const shown = await page.$$eval("section.charts figure:not(.empty)", (f) => f.length);
  assert.ok(shown > 0, `some chart shows the newest record (${newest.name} at ${newest.time})`);
  await rendered(async () => {
    await page.selectOption("#range", "custom");
    await page.fill("#from", "2026-11-01T00:00");
    await page.fill("#to", "2026-12-31T00:00");
    await page.click(".custom button");
  });
});

test("a session timeline lists its events in order, joined by prompt, tool use and request", async () => {
  const sessions = JSON.parse(execFileSync(bin, ["sessions", "--json", "--since", "all", "--data-dir", dataDir], { encoding: "utf8" }));
  // Start and span come from the first and last record, to the second (not the hour).
  for (const s of sessions) {
    assert.notEqual(s.first_ns % 3_600_000_000_000, 0, `${s.session_id} starts on the hour: ${s.first}`);
  }
  const withTools = sessions.find((s) => s.events >= 10 && s.usage_source === "metrics");
  assert.ok(withTools, "a session with tool use");
  await rendered(() => page.goto(`${uiOrigin}/#/session/${withTools.session_id}`));
  const names = await page.$$eval("#timeline li.ev", (items) => items.map((i) => i.dataset.name));
  assert.equal(names.length, withTools.events);
  const first = names.indexOf("user_prompt");
  assert.ok(first >= 0 && first < names.indexOf("api_request"), names.join(","));
  assert.ok(names.indexOf("tool_decision") < names.indexOf("tool_result"), names.join(","));
  assert.match(await page.textContent("#timeline"), /decision: accept/);
  // request_id: every assistant response points back to the numbered API request that
  // produced it, which comes before it.
  const items = await page.$$eval("#timeline li.ev", (lis) => lis.map((li) => ({
    name: li.dataset.name,
    number: li.querySelector(".request-no")?.textContent.trim() ?? null,
    link: li.querySelector(".request-link")?.textContent ?? null,
  })));
  const responses = items.filter((i) => i.name === "assistant_response");
  assert.ok(responses.length > 0, "the session has assistant responses");
  for (const [position, item] of items.entries()) {
    if (item.name !== "assistant_response") continue;
    const n = /API request #(\d+)/.exec(item.link ?? "")?.[1];
    assert.ok(n, `assistant_response at ${position} names its request: ${JSON.stringify(item)}`);
    const request = items.findIndex((i) => i.name === "api_request" && i.number === `#${n}`);
    assert.ok(request >= 0 && request < position, `API request #${n} comes before its response`);
  }
  assert.equal(new Set(items.filter((i) => i.name === "api_request").map((i) => i.number)).size,
    items.filter((i) => i.name === "api_request").length, "API requests are numbered once each");
  await shot("session-timeline");
});

test("charts export as SVG and PNG, and follow the dark theme", async () => {
  await rendered(() => page.goto(`${uiOrigin}/#/overview`));
  await page.waitForSelector("#chart-cost svg");
  const [svg] = await Promise.all([page.waitForEvent("download"), page.click("#chart-cost .export-svg")]);
  assert.match(readFileSync(await svg.path(), "utf8"), /^<svg/);
  const [png] = await Promise.all([page.waitForEvent("download"), page.click("#chart-cost .export-png")]);
  const bytes = readFileSync(await png.path());
  assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const lightSvg = await page.innerHTML("#chart-cost .chart");
  await rendered(() => page.click("#theme"));
  await page.waitForSelector("#chart-cost svg");
  assert.equal(await page.getAttribute("html", "data-theme"), "dark");
  assert.notEqual(await page.innerHTML("#chart-cost .chart"), lightSvg);
  await shot("overview-dark");
  writeFileSync(join(artifacts, "chart-cost.png"), bytes);
});

test("the receiver panel shows addresses and counts", async () => {
  await rendered(() => page.goto(`${uiOrigin}/#/receiver`));
  const text = await page.textContent("#receiver");
  assert.match(text, new RegExp(httpAddr.replace(/\./g, "\\.")));
  assert.match(text, /Exports accepted/);
});

test("the receiver panel adds the settings to ~/.claude/settings.json, with a preview and a backup", async () => {
  await page.goto(`${uiOrigin}/#/receiver`);
  await rendered(() => page.reload());
  await page.click("#setup-preview");
  await page.waitForSelector("#setup-diff:not([hidden])");
  const diff = await page.textContent("#setup-diff");
  assert.match(diff, new RegExp(`\\+\\s+"OTEL_EXPORTER_OTLP_ENDPOINT": "http://${httpAddr.replace(/\./g, "\\.")}"`));
  assert.match(diff, /KEEP_ME/);
  await page.click("#setup-apply");
  await page.waitForFunction(() => document.querySelector("#setup-result")?.textContent.startsWith("Written to"));
  const written = JSON.parse(readFileSync(join(homeDir, ".claude/settings.json"), "utf8"));
  assert.equal(written.model, "opus");
  assert.equal(written.env.KEEP_ME, "yes");
  assert.equal(written.env.CLAUDE_CODE_ENABLE_TELEMETRY, "1");
  assert.equal(written.env.OTEL_EXPORTER_OTLP_ENDPOINT, `http://${httpAddr}`);
  const backups = readdirSync(join(homeDir, ".claude")).filter((n) => n.startsWith("settings.json.ccscope-backup-"));
  assert.equal(backups.length, 1);
  assert.deepEqual(JSON.parse(readFileSync(join(homeDir, ".claude", backups[0]), "utf8")), { model: "opus", env: { KEEP_ME: "yes" } });
  // Without the page's Origin the write is refused.
  const token = new URL(uiUrl).searchParams.get("token");
  const forged = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-b", `ccscope_session=${token}`, `${uiOrigin}/api/setup`], { encoding: "utf8" });
  assert.equal(forged, "403");
  assert.equal(written.env.OTEL_TRACES_EXPORTER, undefined, "traces only when asked for");
  // With traces: the diff adds exactly the two switches, and writing keeps everything else.
  await page.check("#setup-traces");
  await page.click("#setup-preview");
  await page.waitForSelector("#setup-diff:not([hidden])");
  const lines = (await page.textContent("#setup-diff")).split("\n");
  const changed = (sign) => new Set(lines.filter((l) => l.startsWith(sign) && !l.startsWith(sign.repeat(3))).map((l) => l.slice(1).replace(/[\s,]/g, "")));
  const removed = changed("-");
  assert.deepEqual([...changed("+")].filter((l) => !removed.has(l)).sort(), ['"CLAUDE_CODE_ENHANCED_TELEMETRY_BETA":"1"', '"OTEL_TRACES_EXPORTER":"otlp"']);
  await page.click("#setup-apply");
  await page.waitForFunction(() => document.querySelector("#setup-result")?.textContent.includes("saved as"));
  const traced = JSON.parse(readFileSync(join(homeDir, ".claude/settings.json"), "utf8"));
  assert.deepEqual(traced, { ...written, env: { ...written.env, CLAUDE_CODE_ENHANCED_TELEMETRY_BETA: "1", OTEL_TRACES_EXPORTER: "otlp" } });
  await shot("receiver-setup");
});

test("budgets: set on the receiver page, shown on the overview against today's spend", async () => {
  const nowNs = `${BigInt(Date.now()) * 1_000_000n}`;
  const body = {
    resourceLogs: [{ scopeLogs: [{ logRecords: [{
      timeUnixNano: nowNs,
      body: { stringValue: "claude_code.api_request" },
      attributes: [
        { key: "session.id", value: { stringValue: "budget-session-0001" } },
        { key: "event.name", value: { stringValue: "api_request" } },
        { key: "event.sequence", value: { intValue: 0 } },
        { key: "model", value: { stringValue: "claude-budget-test" } },
        { key: "cost_usd", value: { doubleValue: 0.75 } },
      ],
    }] }] }],
  };
  const response = await fetch(`http://${httpAddr}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(response.status, 200);
  await rendered(() => page.goto(`${uiOrigin}/#/receiver`));
  assert.match(await page.textContent("#receiver"), /receiving/);
  await page.fill("#budget-daily", "0.5");
  await page.fill("#budget-monthly", "1000");
  await page.click("#budget-save");
  await page.waitForFunction(() => document.querySelector("#budget-status")?.textContent.startsWith("Saved."));
  await page.fill("#budget-daily", "-3");
  await page.click("#budget-save");
  await page.waitForFunction(() => /positive number/.test(document.querySelector("#budget-status")?.textContent ?? ""));
  await rendered(() => page.goto(`${uiOrigin}/#/overview`));
  const midnight = new Date();
  const day = `${midnight.getFullYear()}-${String(midnight.getMonth() + 1).padStart(2, "0")}-${String(midnight.getDate()).padStart(2, "0")}`;
  const spentToday = JSON.parse(execFileSync(bin, ["report", "--json", "--from", day, "--data-dir", dataDir], { encoding: "utf8" })).cost_usd;
  assert.ok(spentToday >= 0.75, `${spentToday}`);
  const today = page.locator("#budget-strip .budget", { hasText: "Today" });
  assert.equal((await today.innerText()).split(" (")[0], `Today: ${money(spentToday)} of $0.5000`);
  assert.match(await today.getAttribute("class"), /crossed/);
  const month = page.locator("#budget-strip .budget", { hasText: "This month" });
  assert.doesNotMatch(await month.getAttribute("class"), /crossed/);
  await shot("budgets");
});

test("a prompt's waterfall: spans to scale, where the time went, and a span's details with its events", async () => {
  // Claude Code 2.1.337 with traces on (recorded as it sent them, OTLP/JSON).
  const recorded = join(root, "tests/fixtures/claude-code-2.1.337/http-json/tools-traces");
  for (const name of readdirSync(recorded).filter((n) => /^\d+-\w+\.json$/.test(n)).sort()) {
    const meta = JSON.parse(readFileSync(join(recorded, name.replace(/\.json$/, ".meta.json")), "utf8"));
    const response = await fetch(`http://${httpAddr}${meta.path}`, { method: "POST", headers: { "content-type": "application/json" }, body: readFileSync(join(recorded, name)) });
    assert.equal(response.status, 200, `${name}: ${await response.text()}`);
  }
  const session = "1a9f86e7-32c8-437a-a66d-ff88e3433fb3";
  const trace = JSON.parse(execFileSync(bin, ["trace", session, "--json", "--data-dir", dataDir], { encoding: "utf8" }));
  const flat = (spans) => spans.flatMap((s) => [s, ...flat(s.children)]);
  const spans = trace.prompts.flatMap((p) => flat(p.spans));
  assert.ok(spans.length >= 6, `${spans.length} spans`);
  const consoleErrors = [];
  const onConsole = (message) => { if (message.type() === "error") consoleErrors.push(message.text()); };
  page.on("console", onConsole);
  await rendered(() => page.goto(uiUrl));
  await rendered(() => page.goto(`${uiOrigin}/#/session/${session}`));
  assert.equal(await page.getAttribute("#tab-waterfall", "aria-selected"), "true");
  // Every span once, in the CLI's tree order, indented by depth.
  const rows = await page.$$eval(".wf-row[data-span]", (els) => els.map((el) => ({ id: el.dataset.span, kind: el.dataset.kind, level: Number(el.getAttribute("aria-level")) })));
  assert.deepEqual(rows.map((r) => r.id), spans.map((s) => s.span_id));
  // Where the time went: the legend names the CLI's split, to the millisecond.
  const split = trace.prompts[0].time_ms;
  const legend = await page.$$eval(".split-legend li", (lis) => Object.fromEntries(lis.map((li) => [li.dataset.part, li.textContent])));
  for (const [key, value] of Object.entries(split)) {
    if (value > 0) assert.match(legend[key], new RegExp(`${Math.round(value)} ms`), `${key}: ${legend[key]}`);
    else assert.equal(legend[key], undefined);
  }
  // Bars to scale: a model request's bar spans its share of the prompt; its first token is marked.
  const prompt = trace.prompts[0];
  const model = spans.find((s) => s.name === "claude_code.llm_request");
  const bar = await page.$eval(`.wf-row[data-span="${model.span_id}"] .wf-bar`, (el) => ({ left: parseFloat(el.style.left), width: parseFloat(el.style.width) }));
  const total = prompt.end_ns - prompt.start_ns;
  assert.ok(Math.abs(bar.left - ((model.start_ns - prompt.start_ns) / total) * 100) < 0.01, JSON.stringify(bar));
  assert.ok(Math.abs(bar.width - ((model.end_ns - model.start_ns) / total) * 100) < 0.01, JSON.stringify(bar));
  assert.equal(await page.$$eval(`.wf-row[data-span="${model.span_id}"] .wf-ttft`, (els) => els.length), 1);
  // A tool's bar is split into waiting for the developer and running.
  const tool = spans.find((s) => s.name === "claude_code.tool");
  const segments = await page.$$eval(`.wf-row[data-span="${tool.span_id}"] .wf-seg`, (els) => els.map((el) => el.className));
  assert.deepEqual(segments.sort(), ["wf-seg kind-running", "wf-seg kind-waiting"]);
  // The details pane: a model request's attributes and its API request event, joined by request_id.
  await page.click(`.wf-row[data-span="${model.span_id}"]`);
  const pane = page.locator(".wf-detail");
  await page.waitForFunction(() => /claude_code\.llm_request/.test(document.querySelector(".wf-detail h3")?.textContent ?? ""));
  assert.match(await pane.innerText(), new RegExp(model.attributes.request_id));
  assert.ok((await pane.locator("li.ev").evaluateAll((lis) => lis.map((li) => li.dataset.name))).includes("api_request"));
  // A tool's pane lists its decision and result (joined by tool_use_id).
  await page.click(`.wf-row[data-span="${tool.span_id}"]`);
  await page.waitForFunction(() => /claude_code\.tool$/.test(document.querySelector(".wf-detail h3")?.textContent ?? ""));
  const toolEvents = await pane.locator("li.ev").evaluateAll((lis) => lis.map((li) => li.dataset.name));
  assert.ok(toolEvents.includes("tool_result"), toolEvents.join(","));
  await shot("session-waterfall");
  // Collapsing the prompt's row hides every span under it; expanding brings them back.
  const top = prompt.spans[0];
  await page.click(`.wf-row[data-span="${top.span_id}"] .caret`);
  assert.equal(await page.$$eval(".wf-row[data-span]", (els) => els.length), 1);
  await page.click(`.wf-row[data-span="${top.span_id}"] .caret`);
  assert.equal(await page.$$eval(".wf-row[data-span]", (els) => els.length), spans.length);
  // The events of the session are one tab away.
  await page.click("#tab-events");
  assert.equal(await page.isVisible("#timeline"), true);
  assert.equal(await page.isVisible("#waterfalls"), false);
  // Where the money went, on the overview: the recording's range, split as `report --by` splits it.
  const at = new Date(prompt.start_ns / 1e6);
  const from = new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);
  const to = new Date(from.getTime() + 2 * 3_600_000);
  const local = (d) => d.toISOString().slice(0, 16);
  await rendered(() => page.goto(`${uiOrigin}/#/overview`));
  await rendered(async () => {
    await page.selectOption("#range", "custom");
    await page.fill("#from", local(from));
    await page.fill("#to", local(to));
    await page.click(".custom button");
  });
  const by = JSON.parse(execFileSync(bin, ["report", "--json", "--by", "query_source", "--from", from.toISOString(), "--to", to.toISOString(), "--data-dir", dataDir], { encoding: "utf8" })).by;
  assert.ok(by.rows.length > 0, JSON.stringify(by));
  const shown = await page.$$eval('#money .money-split[data-key="query_source"] li', (lis) => lis.map((li) => [li.dataset.value, li.querySelector(".money-cost").textContent]));
  assert.deepEqual(shown, by.rows.filter((r) => r.cost_usd !== 0).map((r) => [r.value ?? "", money(r.cost_usd)]));
  assert.match(await page.textContent("#money .money-empty"), /Skills/);
  await shot("overview-money");
  // The usage report of the range says the same.
  const reportMd = await page.evaluate(async (url) => (await fetch(url, { headers: { authorization: `Bearer ${sessionStorage.getItem("ccscope.launch-token")}` } })).text(),
    `/api/report?format=md&from=${BigInt(from.getTime()) * 1_000_000n}&to=${BigInt(to.getTime()) * 1_000_000n}`);
  for (const row of by.rows) {
    assert.ok(reportMd.includes(`| Who asked | ${row.value ?? "(not attributed)"} | ${money(row.cost_usd)} |`), reportMd);
  }
  // Where the time went: the tools' run and wait as `ccscope latency` gives them, and the
  // slowest prompt leads to its waterfall.
  const latency = JSON.parse(execFileSync(bin, ["latency", "--json", "--from", from.toISOString(), "--to", to.toISOString(), "--data-dir", dataDir], { encoding: "utf8" }));
  await page.waitForSelector("#tool-latency");
  const write = latency.tools.find((t) => t.tool === "Write");
  const cells = await page.$$eval('#tool-latency tr[data-tool="Write"] td', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(cells.slice(0, 2), ["Write", String(write.runs)]);
  assert.equal(cells[4], String(write.waits));
  assert.equal(latency.slowest[0].session_id, session);
  await rendered(() => page.click(`#slowest-prompts tr[data-session="${session}"] a`));
  await page.waitForSelector("#waterfalls .wf-row");
  page.off("console", onConsole);
  assert.deepEqual(consoleErrors, []);
});

// The real desktop window end to end: `tauri-driver` (which runs Debian's WebKitWebDriver) starts
// the ccscope desktop app under Xvfb; plain WebDriver over HTTP drives the real WebKitGTK window.
// The app starts its receiver, store and dashboard in-process; the overview renders; a recorded
// Claude Code export (timestamps moved to now) replayed to its receiver shows up live; the
// settings forms open; closing the window keeps the receiver running; a second launch exits and
// leaves the first. Screenshots go to tests/artifacts/desktop-*.png.
//
// CCSCOPE_DESKTOP_BIN picks the app (default target/debug/ccscope-desktop; CI runs the one the
// .deb installed, /usr/bin/ccscope-desktop). Run under `xvfb-run -a dbus-run-session`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const app = process.env.CCSCOPE_DESKTOP_BIN ?? join(root, "target/debug/ccscope-desktop");
const driverBin = process.env.TAURI_DRIVER ?? join(process.env.HOME ?? "/root", ".cargo/bin/tauri-driver");
const artifacts = join(root, "tests/artifacts");
const fixture = join(root, "tests/fixtures/claude-code-2.1.197/http-json/tools/00001-logs.json");
mkdirSync(artifacts, { recursive: true });

const DRIVER_PORT = 4444;
const driverUrl = `http://127.0.0.1:${DRIVER_PORT}`;
let driver, session, home, env;

async function wd(method, path, body) {
  const response = await fetch(`${driverUrl}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json.value)}`);
  return json.value;
}

const s = (path) => `/session/${session}${path}`;
const run = (script, ...args) => wd("POST", s("/execute/sync"), { script, args });

async function waitFor(script, what, timeoutMs = 15_000, ...args) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    try {
      last = await run(script, ...args);
      if (last) return last;
    } catch (error) {
      last = error.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function shot(name) {
  const png = await wd("GET", s("/screenshot"));
  writeFileSync(join(artifacts, `desktop-${name}.png`), Buffer.from(png, "base64"));
}

async function waitForDriver() {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${driverUrl}/status`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("tauri-driver did not start");
}

/** A recorded Claude Code export with every timestamp moved to the last few seconds. */
function freshExport() {
  const text = readFileSync(fixture, "utf8");
  const now = BigInt(Date.now()) * 1_000_000n;
  let offset = 0n;
  return text.replace(/"(timeUnixNano|observedTimeUnixNano)":"\d+"/g, (_, key) => `"${key}":"${now - 3_000_000_000n + (offset += 1_000_000n)}"`);
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), "ccscope-desktop-home-"));
  env = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local/share"),
    CCSCOPE_DATA_DIR: join(home, "data"),
    CCSCOPE_OTLP_GRPC: "127.0.0.1:0",
    CCSCOPE_OTLP_HTTP: "127.0.0.1:0",
    CCSCOPE_LOG: "warn",
    TAURI_WEBVIEW_AUTOMATION: "true",
  };
  driver = spawn(driverBin, ["--port", String(DRIVER_PORT)], { env, stdio: ["ignore", "inherit", "inherit"] });
  await waitForDriver();
  const started = Date.now();
  const created = await wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: app }, browserName: "wry" } } });
  session = created.sessionId;
  // The first chart drawn, from a cold start of the app (printed for docs/benchmarks.md); on
  // an empty store every chart shows its empty state instead of a grid.
  await waitFor("return document.querySelector('.card .chart svg, .card .empty-chart') !== null", "the first chart", 30_000);
  console.log(`# desktop: first chart ${Date.now() - started} ms after the WebDriver session was requested`);
});

/** Whether a process runs the app binary (pgrep exits 1 when none does). */
function appRunning() {
  try {
    execFileSync("pgrep", ["-f", app], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

after(async () => {
  if (session) await wd("DELETE", s("")).catch(() => {});
  driver?.kill("SIGTERM");
  // The app should exit once its session ends; if it lingers it would keep dbus-run-session
  // and xvfb-run (and so CI) waiting. Give it 15 s, then say so and stop it.
  const deadline = Date.now() + 15_000;
  while (appRunning() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  if (appRunning()) {
    console.log("# desktop: the app did not exit within 15 s of its session ending; sending SIGKILL");
    try { execFileSync("pkill", ["-KILL", "-f", app]); } catch { /* gone meanwhile */ }
  }
});

let httpAddr;

test("the window shows the dashboard served by the app's own server", async () => {
  const url = await wd("GET", s("/url"));
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/(#\/overview)?$/, "the token left the address bar");
  assert.equal(await wd("GET", s("/title")), "ccscope");
  await waitFor("return document.getElementById('tile-cost') !== null", "the tiles");
  await shot("overview-empty");
  await run("location.hash = '#/receiver'");
  const receiver = await waitFor("const t = document.getElementById('receiver'); return t && t.textContent", "the receiver panel");
  httpAddr = receiver.match(/OTLP\/HTTP\s*(127\.0\.0\.1:\d+)/)?.[1];
  assert.ok(httpAddr, receiver);
  assert.match(receiver, /receiving/);
});

test("a replayed Claude Code export shows up live", async () => {
  await run("location.hash = '#/overview'");
  await waitFor("return document.getElementById('tile-sessions')?.getAttribute('data-value') === '0'", "an empty overview");
  const response = await fetch(`http://${httpAddr}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: freshExport() });
  assert.equal(response.status, 200, await response.text());
  await waitFor("return Number(document.getElementById('tile-sessions')?.getAttribute('data-value')) >= 1", "the session on the tiles", 10_000);
  await waitFor("return document.querySelector('#chart-cost svg') !== null", "the cost chart");
  await shot("overview-live");
});

test("the settings forms open in the window", async () => {
  await run("location.hash = '#/settings'");
  await waitFor("return document.querySelector('#settings-forms .settings-section') !== null && document.getElementById('settings-diff') !== null", "the settings forms");
  const title = await run("return document.querySelector('#section-telemetry summary').textContent");
  assert.equal(title, "Telemetry");
  await shot("settings");
});

const x11 = (action) => execFileSync("/usr/bin/python3", [join(root, "tests/desktop/x11.py"), action, "ccscope"], { encoding: "utf8" }).trim();

async function windowState(want) {
  const until = Date.now() + 10_000;
  let state;
  while (Date.now() < until) {
    state = x11("state");
    if (state === want) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`the window is ${state}, not ${want}`);
}

test("closing the window keeps the receiver running in the tray; launching again shows it", async () => {
  await windowState("viewable");
  x11("close");
  await windowState("unmapped");
  const alive = await fetch(`http://${httpAddr}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: freshExport() });
  assert.equal(alive.status, 200, "the receiver answers with the window closed");
  // The same page is still there, hidden: the session survives.
  assert.match(await run("return location.hash"), /settings/);
  const second = spawn(app, [], { env, stdio: "ignore" });
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve("still running"), 15_000);
    second.on("exit", (c) => { clearTimeout(timer); resolve(c); });
  });
  if (code === "still running") second.kill("SIGKILL");
  assert.equal(code, 0, "the second instance hands over to the first and exits");
  await windowState("viewable");
  await shot("reopened");
});

// The managed-settings forms end to end: a real `ccscope serve` whose settings helper writes
// under a scratch root (honoured by debug builds only), driven in Debian's Chromium. Forms and
// the raw JSON editor stay in sync, findings appear at their fields, the diff shows the exact
// change, Apply writes through the real helper, `ccscope settings show` reports the result, and
// a backup can be restored. Screenshots go to tests/artifacts/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.CCSCOPE_BIN ?? join(root, "target/debug/ccscope");
const artifacts = join(root, "tests/artifacts");
mkdirSync(artifacts, { recursive: true });

let serve, managedRoot, homeDir, uiUrl, browser, page;
const managedFile = () => join(managedRoot, "etc/claude-code/managed-settings.json");
const env = () => ({ ...process.env, CCSCOPE_LOG: "warn", HOME: homeDir, CLAUDE_CONFIG_DIR: "", CCSCOPE_TEST_MANAGED_ROOT: managedRoot, CCSCOPE_SETTINGS_HELPER: join(root, "target/debug/ccscope-settings-helper") });

function startServe() {
  const dataDir = mkdtempSync(join(tmpdir(), "ccscope-settings-data-"));
  const child = spawn(bin, ["serve", "--data-dir", dataDir, "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--ui", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"], env: env() });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const l = line.trim();
      if (l.startsWith("dashboard  ")) resolve({ child, ui: l.slice("dashboard  ".length) });
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
    setTimeout(() => reject(new Error("serve did not start")), 30_000);
  });
}

const field = (pointer) => `.field[data-pointer="${pointer}"]`;

async function diffText() {
  return page.locator("#settings-diff").innerText();
}

async function waitForDiff(needle) {
  await page.waitForFunction((n) => (document.getElementById("settings-diff")?.textContent ?? "").includes(n), needle, { timeout: 10_000 });
}

async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

before(async () => {
  managedRoot = mkdtempSync(join(tmpdir(), "ccscope-managed-"));
  chmodSync(managedRoot, 0o755);
  homeDir = mkdtempSync(join(tmpdir(), "ccscope-settings-home-"));
  const started = await startServe();
  serve = started.child;
  uiUrl = started.ui;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1500, height: 1100 }, timezoneId: "UTC" });
  page = await context.newPage();
  page.on("pageerror", (error) => assert.fail(`page error: ${error.message}`));
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(uiUrl);
  await page.goto(new URL("/#/settings", uiUrl).toString());
  await page.waitForSelector("#settings-forms .settings-section");
});

after(async () => {
  await browser?.close();
  serve?.kill("SIGTERM");
});

test("turning on telemetry with prompt logging shows the exact diff and writes it through the helper", async () => {
  await page.selectOption(`${field("/env/CLAUDE_CODE_ENABLE_TELEMETRY")} select`, "1");
  await page.click("#use-receiver");
  await page.selectOption(`${field("/env/OTEL_LOG_USER_PROMPTS")} select`, "1");
  await page.selectOption(`${field("/env/OTEL_METRICS_INCLUDE_SESSION_ID")} select`, "false");
  // Traces in one click (spans and their exporter), the repository and the managed-settings report.
  await page.click("#traces-on");
  await page.selectOption(`${field("/env/OTEL_METRICS_INCLUDE_REPOSITORY")} select`, "true");
  await page.selectOption(`${field("/env/OTEL_LOG_MANAGED_SETTINGS")} select`, "1");
  assert.match(await page.textContent(field("/env/OTEL_METRICS_INCLUDE_REPOSITORY")), /cardinality/);
  // A resource attribute with a space: the form percent-encodes it.
  const attrs = field("/env/OTEL_RESOURCE_ATTRIBUTES");
  await page.click(`${attrs} button.add`);
  await page.fill(`${attrs} input[aria-label="Resource attributes key 1"]`, "department");
  await page.fill(`${attrs} input[aria-label="Resource attributes value 1"]`, "R&D team");
  await waitForDiff('"OTEL_RESOURCE_ATTRIBUTES": "department=R&D%20team"');
  const diff = await diffText();
  assert.match(diff, /^\+\s+"OTEL_LOG_USER_PROMPTS": "1",?$/m);
  assert.match(diff, /^\+\s+"OTEL_METRICS_INCLUDE_SESSION_ID": "false",?$/m);
  for (const [key, value] of [["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1"], ["OTEL_TRACES_EXPORTER", "otlp"], ["OTEL_METRICS_INCLUDE_REPOSITORY", "true"], ["OTEL_LOG_MANAGED_SETTINGS", "1"]]) {
    assert.match(diff, new RegExp(`^\\+\\s+"${key}": "${value}",?$`, "m"), key);
  }
  assert.match(diff, /"OTEL_EXPORTER_OTLP_ENDPOINT": "http:\/\/127\.0\.0\.1:\d+"/);
  // The raw editor shows the same document.
  const raw = JSON.parse(await page.inputValue("#raw-json"));
  assert.equal(raw.env.OTEL_LOG_USER_PROMPTS, "1");
  // The prompt-logging warning sits at its field.
  await page.waitForSelector(`${field("/env/OTEL_LOG_USER_PROMPTS")} .field-error .warning`);
  const sha = (await page.locator("#settings-sha").innerText()).split(": ")[1];
  await shot("settings-preview");

  assert.equal(await page.isDisabled("#settings-apply"), false);
  await page.click("#settings-apply");
  await page.waitForSelector('#apply-result[data-status="applied"]', { timeout: 20_000 });
  const written = readFileSync(managedFile(), "utf8");
  assert.equal(execFileSync("sha256sum", [managedFile()], { encoding: "utf8" }).split(" ")[0], sha, "the approved bytes were written");
  const doc = JSON.parse(written);
  assert.equal(doc.env.OTEL_LOG_USER_PROMPTS, "1");
  assert.equal(doc.env.OTEL_RESOURCE_ATTRIBUTES, "department=R&D%20team");
  assert.equal(doc.env.CLAUDE_CODE_ENHANCED_TELEMETRY_BETA, "1");
  assert.equal(doc.env.OTEL_TRACES_EXPORTER, "otlp");
  assert.equal(statSync(managedFile()).mode & 0o777, 0o644);

  const shown = JSON.parse(execFileSync(bin, ["settings", "show", "--json"], { encoding: "utf8", env: env() }));
  const entry = shown.effective.find((e) => e.pointer === "/env/OTEL_LOG_USER_PROMPTS");
  assert.deepEqual([entry.value, entry.source], ["1", "managed-settings.json"]);
  // The page's own effective table agrees after the write.
  await page.waitForSelector('#settings-effective tr[data-pointer="/env/OTEL_LOG_USER_PROMPTS"]');
  assert.match(await page.locator('#settings-effective tr[data-pointer="/env/OTEL_LOG_USER_PROMPTS"]').innerText(), /"1"\s+managed-settings\.json/);
  await shot("settings-applied");
});

test("invalid input is shown at its field and cannot be applied", async () => {
  const endpoint = `${field("/env/OTEL_EXPORTER_OTLP_ENDPOINT")} input`;
  const before = readFileSync(managedFile(), "utf8");
  await page.fill(endpoint, "otel.example.com:4318");
  await page.waitForSelector(`${field("/env/OTEL_EXPORTER_OTLP_ENDPOINT")}.invalid .field-error .error`);
  assert.match(await page.locator(`${field("/env/OTEL_EXPORTER_OTLP_ENDPOINT")} .field-error`).innerText(), /absolute URL/);
  assert.equal(await page.isDisabled("#settings-apply"), true);
  await shot("settings-field-error");
  // The raw editor: a bad interval typed there lands on the interval field.
  const raw = JSON.parse(await page.inputValue("#raw-json"));
  raw.env.OTEL_EXPORTER_OTLP_ENDPOINT = "https://otel.example.com";
  raw.env.OTEL_METRIC_EXPORT_INTERVAL = "soon";
  await page.fill("#raw-json", JSON.stringify(raw, null, 2));
  await page.waitForSelector(`${field("/env/OTEL_METRIC_EXPORT_INTERVAL")}.invalid`);
  assert.equal(await page.inputValue(endpoint), "https://otel.example.com", "forms follow the raw editor");
  await page.fill("#raw-json", "{ not json");
  assert.match(await page.locator("#raw-error").innerText(), /Not valid JSON/);
  assert.equal(readFileSync(managedFile(), "utf8"), before, "nothing was written");
});

test("rules, unknown keys, a second version and restoring the first", async () => {
  // Back to the file on disk.
  await page.selectOption("#settings-target", "managed-settings.json");
  await page.waitForFunction(() => document.querySelector("#raw-json")?.value.includes('"OTEL_LOG_USER_PROMPTS": "1"'));
  await page.click("#section-permissions summary");
  await page.selectOption("#rule-list", "deny");
  await page.selectOption("#rule-tool", "Read");
  await page.fill("#rule-specifier", "./.env");
  await page.click("#rule-add");
  await page.waitForSelector('#rules-deny li:has-text("Read(./.env)")');
  const raw = JSON.parse(await page.inputValue("#raw-json"));
  raw.companyPolicyVersion = { id: 7, notes: ["kept as is"] };
  raw.env.OTEL_LOG_USER_PROMPTS = "0";
  await page.fill("#raw-json", JSON.stringify(raw, null, 2));
  await waitForDiff('"companyPolicyVersion"');
  await page.waitForSelector('.field[data-pointer="/companyPolicyVersion"]');
  assert.match(await diffText(), /^-\s+"OTEL_LOG_USER_PROMPTS": "1",?$/m);
  await page.click("#settings-apply");
  await page.waitForSelector('#apply-result[data-status="applied"]', { timeout: 20_000 });
  const second = JSON.parse(readFileSync(managedFile(), "utf8"));
  assert.deepEqual(second.permissions.deny, ["Read(./.env)"]);
  assert.deepEqual(second.companyPolicyVersion, { id: 7, notes: ["kept as is"] });
  assert.equal(second.env.OTEL_LOG_USER_PROMPTS, "0");

  // The first version is the newest backup: restore it.
  await page.waitForSelector("#settings-backups button.restore");
  await page.click("#settings-backups button.restore >> nth=0");
  await page.waitForFunction(() => document.getElementById("apply-result")?.dataset.status === "applied" && document.querySelector("#raw-json")?.value.includes('"OTEL_LOG_USER_PROMPTS": "1"'), null, { timeout: 20_000 });
  const restored = JSON.parse(readFileSync(managedFile(), "utf8"));
  assert.equal(restored.env.OTEL_LOG_USER_PROMPTS, "1");
  assert.equal(restored.permissions, undefined);
  await shot("settings-restored");
});

test("a policy that runs commands is flagged above its diff; a preview gone stale is not applied", async () => {
  await page.selectOption("#settings-target", "managed-settings.json");
  await page.waitForFunction(() => document.querySelector("#raw-json")?.value.includes('"OTEL_LOG_USER_PROMPTS": "1"'));
  const raw = JSON.parse(await page.inputValue("#raw-json"));
  raw.apiKeyHelper = "/usr/local/bin/fetch-key";
  await page.fill("#raw-json", JSON.stringify(raw, null, 2));
  await waitForDiff('"apiKeyHelper"');
  const warning = page.locator("#settings-command-warning");
  assert.match(await warning.innerText(), /runs commands on every machine it reaches: apiKeyHelper/);
  // The warning stands before the diff the admin approves.
  assert.ok(await page.evaluate(() => {
    const w = document.getElementById("settings-command-warning");
    const d = document.getElementById("settings-diff");
    return !!w && !!d && (w.compareDocumentPosition(d) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
  }));
  // Someone else changes the file after this preview: applying it is refused, the file stays.
  const before = readFileSync(managedFile(), "utf8");
  const newer = before.replace('"OTEL_LOG_USER_PROMPTS": "1"', '"OTEL_LOG_USER_PROMPTS": "0"');
  writeFileSync(managedFile(), newer);
  await page.click("#settings-apply");
  await page.waitForFunction(() => ["refused", "failed"].includes(document.getElementById("apply-result")?.dataset.status ?? ""), null, { timeout: 20_000 });
  assert.match(await page.locator("#apply-result").innerText(), /changed since the preview/);
  assert.equal(readFileSync(managedFile(), "utf8"), newer);
  writeFileSync(managedFile(), before);
  await shot("settings-stale");
});

test("the effective view includes a chosen project's settings, below managed policy", async () => {
  const projectDir = mkdtempSync(join(tmpdir(), "ccscope-project-"));
  mkdirSync(join(projectDir, ".claude"));
  writeFileSync(join(projectDir, ".claude/settings.json"), JSON.stringify({ outputStyle: "Explanatory", env: { OTEL_LOG_USER_PROMPTS: "0" } }));
  await page.fill("#settings-project", projectDir);
  await page.click("#settings-project-apply");
  const row = '#settings-effective tr[data-pointer="/outputStyle"]';
  await page.waitForSelector(row);
  assert.match(await page.locator(row).innerText(), /"Explanatory"\s+\.claude\/settings\.json/);
  // Managed policy wins; the project's attempt is listed as ignored.
  const prompts = await page.locator('#settings-effective tr[data-pointer="/env/OTEL_LOG_USER_PROMPTS"]').innerText();
  assert.match(prompts, /"1"\s+managed-settings\.json/);
  assert.match(prompts, /\.claude\/settings\.json: "0" \(ignored: project and local settings cannot set telemetry variables/);
  await shot("settings-effective");
});

test("Deploy to a fleet: each export holds the document in the forms; an invalid one is refused", async () => {
  const doc = {
    permissions: { disableBypassPermissionsMode: "disable" },
    env: { CLAUDE_CODE_ENABLE_TELEMETRY: "1", OTEL_METRICS_EXPORTER: "otlp", OTEL_LOGS_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.example.com:4318" },
    otelHeadersHelper: "/usr/local/bin/otel-token",
  };
  await page.fill("#raw-json", JSON.stringify(doc, null, 2));
  // The telemetry form shows the headers helper beside the headers.
  await page.waitForFunction(() => document.querySelector('.field[data-pointer="/otelHeadersHelper"] input')?.value === "/usr/local/bin/otel-token", null, { timeout: 10_000 });
  await page.fill("#export-org", "Example Corp");
  const exported = {};
  for (const format of ["mobileconfig", "reg", "ps1", "json"]) {
    await page.selectOption("#export-format", format);
    const [file] = await Promise.all([page.waitForEvent("download"), page.click("#export-download")]);
    exported[format] = await file.path();
    assert.match(await page.locator("#export-status").innerText(), /Exported/);
  }
  // The profile, read by Python's plistlib.
  const profile = JSON.parse(execFileSync("python3", ["-c",
    "import json, plistlib, sys\n" +
    "p = plistlib.load(open(sys.argv[1], 'rb'))\n" +
    "print(json.dumps({'org': p['PayloadOrganization'], 'settings': p['PayloadContent'][0]['PayloadContent']['com.anthropic.claudecode']['Forced'][0]['mcx_preference_settings']}))",
    exported.mobileconfig], { encoding: "utf8" }));
  assert.deepEqual(profile.settings, doc);
  assert.equal(profile.org, "Example Corp");
  // The registry file, read by a regedit-format reader.
  const keys = JSON.parse(execFileSync("python3", [join(root, "tests/mdm/parse_reg.py"), exported.reg], { encoding: "utf8" }));
  assert.deepEqual(JSON.parse(keys["HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\ClaudeCode"].Settings), doc);
  const script = readFileSync(exported.ps1, "utf8");
  assert.deepEqual(JSON.parse(script.split("@'\r\n")[1].split("\r\n'@")[0]), doc);
  assert.deepEqual(JSON.parse(readFileSync(exported.json, "utf8")), doc);
  await shot("settings-deploy");
  // An invalid document is not exported: the server's validation names the field.
  await page.fill("#raw-json", JSON.stringify({ cleanupPeriodDays: "thirty" }, null, 2));
  await page.click("#export-download");
  await page.waitForFunction(() => /not exported.*cleanupPeriodDays/.test(document.getElementById("export-status")?.textContent ?? ""), null, { timeout: 10_000 });
});

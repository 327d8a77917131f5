// Drives the explorer's page in headless Chromium for crates/cocoon/tests/explorer.rs.
//
//   node explorer.mjs <page-url>
//
// Opens the page, waits (up to 30 s) until its root element carries data-read-at, then answers
// commands read from stdin, one per line, each with exactly one JSON line on stdout:
//
//   read              {"read_at", "figures", "proxies", "workers", "charts", "requests", "errors"}
//   wait-change <ms>  waits up to <ms> for data-read-at to change, then answers like `read`
//                     (plus "changed": whether it did)
//   screenshot <path> full-page PNG, {"ok": true}
//   quit              closes the browser, {"ok": true}, exits 0
//
// A failing command answers {"error": "..."} and the driver keeps going. If Chromium cannot be
// launched it prints {"error": "..."} and exits 1. If the page does not load or never renders,
// nothing is printed (one line per command stays one line per command): the failure is listed
// in `errors` and `read_at` is null, so a screenshot can still show what went wrong.
//
// Chromium: $CHROMIUM, or /usr/bin/chromium. Every request the page makes is recorded, so the
// test can assert that none leaves the explorer's own address.

import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const url = process.argv[2];
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const message = (e) => (e && e.message ? e.message : String(e)).split("\n")[0];

if (!url) {
  say({ error: "usage: node explorer.mjs <page-url>" });
  process.exit(1);
}

const requests = [];
const errors = [];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cocoon-explorer-chromium-"));
const cleanup = () => { try { fs.rmSync(profile, { recursive: true, force: true }); } catch { /* best effort */ } };

let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    viewport: { width: 1400, height: 900 },
    timeout: 60_000,
  });
} catch (e) {
  say({ error: "cannot launch Chromium: " + message(e) });
  cleanup();
  process.exit(1);
}

context.on("request", (r) => requests.push(r.url()));
const page = context.pages()[0] || await context.newPage();
page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
page.on("pageerror", (e) => errors.push("page: " + message(e)));

try {
  await page.goto(url, { waitUntil: "load", timeout: 30_000 });
  await page.waitForFunction(() => document.documentElement.dataset.readAt !== undefined, null, { timeout: 30_000, polling: 100 });
} catch (e) {
  const line = "startup: the page did not render: " + message(e);
  errors.push(line);
  process.stderr.write(line + "\n");
}

const readAt = () => page.evaluate(() => document.documentElement.dataset.readAt ?? null);

// The DOM's view of the test hooks. Retried once: a navigation (an error page after a failed
// load) can destroy the context it runs in.
async function read() {
  let seen;
  try { seen = await page.evaluate(hooks); } catch (e) {
    await new Promise((r) => setTimeout(r, 300));
    seen = await page.evaluate(hooks);
  }
  return { ...seen, requests: [...requests], errors: [...errors] };
}
function hooks() {
  const figures = {}, proxies = {}, charts = {};
  for (const e of document.querySelectorAll("[data-figure]")) figures[e.dataset.figure] = e.getAttribute("data-value");
  for (const e of document.querySelectorAll("tr[data-proxy]")) {
    proxies[e.dataset.proxy] = { reachable: e.dataset.reachable === "true", text: e.textContent };
  }
  const workers = [...document.querySelectorAll("tr[data-worker]")].map((e) => e.dataset.worker);
  for (const e of document.querySelectorAll("svg[data-chart]")) charts[e.dataset.chart] = Number(e.getAttribute("data-points"));
  const r = document.documentElement.dataset.readAt;
  return { read_at: r === undefined ? null : Number(r), figures, proxies, workers, charts };
}

async function waitChange(ms) {
  const before = await readAt();
  let changed = true;
  try {
    await page.waitForFunction((b) => (document.documentElement.dataset.readAt ?? null) !== b, before, { timeout: ms, polling: 50 });
  } catch (e) {
    if (e && e.name === "TimeoutError") changed = false; else throw e;
  }
  return { ...(await read()), changed };
}

let quit = false;
const commands = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const raw of commands) {
  const line = raw.trim();
  if (!line) continue;
  const [cmd, ...rest] = line.split(/\s+/);
  const arg = line.slice(cmd.length).trim();
  try {
    if (cmd === "read") say(await read());
    else if (cmd === "wait-change") {
      const ms = Number(rest[0]);
      if (!Number.isFinite(ms) || ms < 0) throw new Error("wait-change wants a number of milliseconds");
      say(await waitChange(ms));
    } else if (cmd === "screenshot") {
      if (!arg) throw new Error("screenshot wants a path");
      await page.screenshot({ path: arg, fullPage: true });
      say({ ok: true });
    } else if (cmd === "quit") {
      quit = true;
      break;
    } else throw new Error("unknown command: " + cmd);
  } catch (e) {
    say({ error: message(e) });
  }
}

// `quit`, or stdin closed: either way the browser goes.
try { await context.close(); } catch { /* already gone */ }
cleanup();
if (quit) say({ ok: true });
process.exit(0);

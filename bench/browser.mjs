// What a person feels: the driver of bench/browser (run it through bench/browser, which
// installs and builds first).
//
// Starts the whole site on 127.0.0.1 (svc-pricing, svc-dashboard, svc-accounts with a fresh
// SQLite database, the shell in front, release binaries from BIN_DIR), lists its pages from
// the shell's /registry.json ("/" and every section), and drives headless Chromium
// (puppeteer-core, a fresh profile) over them, signed out and then signed in (an account
// signed up through the page's own form, its address confirmed by the link svc-accounts'
// development mailer writes to its log, then signed in through the form):
//
// - swap: a real click (CDP mouse events) on the header link of the page, from another
//   section's page, to the page's fragments in <main>: from the click event's timeStamp to
//   the MutationObserver callback that sees every fragment root of the section
//   (`[data-fragment="service/id"]`) in <main>. The loader's own Performance API measure
//   (`mf:navigation`, from its click handler to its swap) is kept beside it in the JSON, and
//   so are the times (from the click) at which the swap's fragment requests left and the
//   last one was answered (Resource Timing): what is the network and servers, what is the
//   page's own work.
// - load: a full page load of the same URL (page.goto, the browser's cache as a visitor has
//   it) from navigation start to the same fragments in the DOM (a MutationObserver installed
//   before the page's first byte), and to the load event (loadEventEnd).
//
// Each page: one warm-up round, then RUNS rounds (swap, then full load, interleaved so drift
// in the machine's speed touches both alike). Then Lighthouse 12.2.3 (its CLI, mobile
// defaults, a fresh Chromium each run) audits every page signed out and signed in (the
// session as a Cookie header, --extra-headers), LIGHTHOUSE_RUNS times each: the four category
// scores of its median run (Lighthouse's computeMedianRun) and the cumulative layout shift.
//
// Writes OUT/browser.json and OUT/browser.md and prints the Markdown. Only the processes
// started here are stopped, by PID.
//
//   node bench/browser.mjs BIN_DIR OUT
//   (env: RUNS, LIGHTHOUSE=0 to skip it, LIGHTHOUSE_RUNS, LIGHTHOUSE_PAGES=/pricing,/ to audit only those,
//   CHROME_PATH)

import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { computeMedianRun } from "lighthouse/core/lib/median-run.js";
import puppeteer from "puppeteer-core";

const BENCH = dirname(fileURLToPath(import.meta.url));
const HOST = "127.0.0.1";
const SECRET = "bench-context-secret-0123456789";
const CHROME = process.env.CHROME_PATH || "/usr/bin/chromium";
const CHROME_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"];
const RUNS = Number(process.env.RUNS || 30);
const LIGHTHOUSE = process.env.LIGHTHOUSE !== "0";
// Lighthouse's runs per page and state; the figures are its median run's.
const LIGHTHOUSE_RUNS = Number(process.env.LIGHTHOUSE_RUNS || 3);
// The pages Lighthouse audits (paths, comma-separated): all of them when unset.
const LIGHTHOUSE_PAGES = (process.env.LIGHTHOUSE_PAGES || "").split(",").filter(Boolean);
const VIEWPORT = { width: 1280, height: 900 };
const STEP_TIMEOUT_MS = 15000;
const ACCOUNT = { name: "Ada Lovelace", email: "ada@example.com", password: "analytical engine" };
const CATEGORIES = ["performance", "accessibility", "best-practices", "seo"];

function log(...args) {
  console.error(...args);
}

/** The processes started here, stopped by PID (SIGTERM, then SIGKILL after 5 s). */
class Procs {
  constructor(work) {
    this.work = work;
    this.all = [];
  }

  start(name, argv, env = {}) {
    const logPath = join(this.work, `${name}.log`);
    const out = createWriteStream(logPath, { flags: "a" });
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    child.benchName = name;
    child.logPath = logPath;
    this.all.push(child);
    return child;
  }

  async stopAll() {
    for (const child of this.all.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitReady(url, child, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.benchName} exited with ${child.exitCode} (see ${child.logPath})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${seconds} s (see ${child.logPath})`);
}

/** Starts the three services and the shell on free ports; returns the shell's URL and the
 * log of svc-accounts (where its development mailer writes the confirmation link). */
async function startSite(procs, binDir, work) {
  const [pricing, dashboard, accounts, shell] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const shellUrl = `http://${HOST}:${shell}`;
  const env = { CONTEXT_SECRET: SECRET, RUST_LOG: "warn" };
  const bin = (name) => join(binDir, name);
  const services = {
    pricing: [pricing, procs.start("svc-pricing", [bin("svc-pricing"), "--port", `${pricing}`], env)],
    dashboard: [dashboard, procs.start("svc-dashboard", [bin("svc-dashboard"), "--port", `${dashboard}`], env)],
    accounts: [
      accounts,
      procs.start(
        "svc-accounts",
        [bin("svc-accounts"), "--port", `${accounts}`, "--database", join(work, "accounts.db"),
          "--trusted-proxies", HOST, "--public-url", `${shellUrl}/accounts`],
        { ...env, RUST_LOG: "warn,svc_accounts=info" },
      ),
    ],
  };
  for (const [port, child] of Object.values(services)) await waitReady(`http://${HOST}:${port}/readyz`, child);
  const pairs = Object.entries(services).map(([name, [port]]) => `${name}=http://${HOST}:${port}`).join(",");
  const shellProc = procs.start("shell", [bin("shell"), "--port", `${shell}`, "--admin-port", "0", "--services", pairs], env);
  await waitReady(`${shellUrl}/readyz`, shellProc);
  return { shellUrl, accountsLog: services.accounts[1].logPath };
}

/** The site's pages from the shell's registry: "/" (the default section) and every
 * section's path, each with the fragments its <main> shows (lazy slots are not fetched). */
async function pagesOf(shellUrl) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const registry = await (await fetch(`${shellUrl}/registry.json`)).json();
    const known = registry.sections.every((s) => s.slots.every((slot) => slot.url));
    if (known || Date.now() > deadline) {
      const page = (path, s) => ({
        path,
        section: s.id,
        fragments: s.slots.filter((slot) => slot.mode !== "lazy").map((slot) => `${slot.service}/${slot.fragment}`),
      });
      const home = registry.sections.find((s) => s.id === registry.default_section);
      return [page("/", home), ...registry.sections.map((s) => page(s.path, s))];
    }
    await sleep(200); // the shell reads the manifests just after it is ready
  }
}

// ---- In the page -------------------------------------------------------------------------

// Installed before every document's first script: the time (ms from navigation start)
// each fragment root first appears in the DOM, in window.__mfSeen.
function loadProbe() {
  window.__mfSeen = {};
  const seen = () => {
    for (const el of document.querySelectorAll("main [data-fragment]")) {
      const name = el.dataset.fragment;
      if (!(name in window.__mfSeen)) window.__mfSeen[name] = performance.now();
    }
  };
  const observer = new MutationObserver(seen);
  observer.observe(document, { childList: true, subtree: true });
  addEventListener("load", () => observer.disconnect(), { once: true });
}

// Set before a measured click: resolves window.__mfSwap with the time from the click's
// event timeStamp to the moment <main> shows `section` with every fragment in `fragments`.
function swapProbe(section, fragments, timeoutMs) {
  const main = document.querySelector("main[data-fragment-loader-target=main]");
  window.__mfSwap = new Promise((resolve, reject) => {
    let clickAt = null;
    addEventListener("click", (event) => (clickAt = event.timeStamp), { capture: true, once: true });
    const shown = () =>
      main.dataset.section === section && fragments.every((f) => main.querySelector(`[data-fragment="${f}"]`));
    const timer = setTimeout(() => reject(new Error(`no swap to ${section} within ${timeoutMs} ms`)), timeoutMs);
    const observer = new MutationObserver(() => {
      if (clickAt === null || !shown()) return;
      const at = performance.now();
      observer.disconnect();
      clearTimeout(timer);
      const measures = performance.getEntriesByName("mf:navigation");
      // The fragment requests of this swap: when the first left and the last answer ended.
      const fetches = performance.getEntriesByType("resource").filter((e) => e.startTime >= clickAt);
      resolve({
        ms: at - clickAt,
        loaderMs: measures.length ? measures[measures.length - 1].duration : null,
        fetchStartMs: fetches.length ? Math.min(...fetches.map((e) => e.startTime)) - clickAt : null,
        fetchEndMs: fetches.length ? Math.max(...fetches.map((e) => e.responseEnd)) - clickAt : null,
      });
    });
    observer.observe(main, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-section"] });
  });
}

// ---- Driving Chromium --------------------------------------------------------------------

async function launchBrowser(work) {
  const browser = await puppeteer.launch({
    executablePath: CHROME,
    headless: true,
    userDataDir: mkdtempSync(join(work, "chromium-")),
    args: CHROME_FLAGS,
    defaultViewport: VIEWPORT,
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  await page.evaluateOnNewDocument(loadProbe);
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  return { browser, page, errors };
}

/** Loads `url` and waits until the fragment loader has its registry (before that a click
 * is a plain navigation). */
async function openWithLoader(page, url) {
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => {
    const body = document.body;
    const loader = window.Stimulus?.getControllerForElementAndIdentifier(body, "fragment-loader");
    return history.state?.mf === true && loader?.registry;
  });
}

async function clickSwap(page, target) {
  await page.evaluate(swapProbe, target.section, target.fragments, STEP_TIMEOUT_MS);
  await page.click(`header a[href="${target.path}"]`);
  return page.evaluate(() => window.__mfSwap);
}

async function fullLoad(page, url, target) {
  await openWithLoader(page, url);
  return page.evaluate((fragments) => {
    const nav = performance.getEntriesByType("navigation")[0];
    const seen = fragments.map((f) => window.__mfSeen[f]);
    return {
      fragmentMs: seen.every((t) => t !== undefined) ? Math.max(...seen) : null,
      loadMs: nav.loadEventEnd,
    };
  }, target.fragments);
}

/** RUNS rounds (after a warm-up) of: from `from`'s page, a click to `target` (measured),
 * a full load of `target` (measured), a click back to `from`. */
async function measurePage(page, shellUrl, target, from, runs) {
  const figures = { swap: [], loader: [], fetchStart: [], fetchEnd: [], loadFragment: [], load: [] };
  await openWithLoader(page, shellUrl + from.path);
  for (let i = 0; i <= runs; i++) {
    const swap = await clickSwap(page, target);
    const load = await fullLoad(page, shellUrl + target.path, target);
    await clickSwap(page, from);
    if (i === 0) continue; // warm-up: the section's CSS and controllers load once
    figures.swap.push(swap.ms);
    if (swap.loaderMs !== null) figures.loader.push(swap.loaderMs);
    if (swap.fetchStartMs !== null) figures.fetchStart.push(swap.fetchStartMs);
    if (swap.fetchEndMs !== null) figures.fetchEnd.push(swap.fetchEndMs);
    if (load.fragmentMs !== null) figures.loadFragment.push(load.fragmentMs);
    figures.load.push(load.loadMs);
  }
  return figures;
}

/** Another section's page to click from. */
function fromPageFor(target, pages) {
  return pages.find((p) => p.section !== target.section && p.path !== "/") || pages.find((p) => p !== target);
}

async function measureAll(page, shellUrl, pages, runs, state) {
  const rows = [];
  for (const target of pages) {
    const from = fromPageFor(target, pages);
    log(`bench/browser: ${state} ${target.path} (from ${from.path}), ${runs} rounds…`);
    rows.push({ state, path: target.path, from: from.path, ...(await measurePage(page, shellUrl, target, from, runs)) });
  }
  return rows;
}

// ---- Signing in --------------------------------------------------------------------------

/** The confirmation link svc-accounts' development mailer wrote to its log for `email`. */
async function confirmationLink(logPath) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const match = readFileSync(logPath, "utf8").match(/(https?:\/\/[^\s"\\]+\?confirm=[A-Za-z0-9_-]+)/);
    if (match) return match[1];
    await sleep(100);
  }
  throw new Error(`no confirmation link in ${logPath} (svc-accounts logs it at info level without SMTP)`);
}

/** Signs an account up through the page's form, opens the mailed confirmation link, signs
 * in through the form; returns the Cookie header of the session. */
async function signUpAndIn(page, shellUrl, accountsLog) {
  await openWithLoader(page, `${shellUrl}/accounts`);
  await page.locator("#sign-up-name").fill(ACCOUNT.name);
  await page.locator("#sign-up-email").fill(ACCOUNT.email);
  await page.locator("#sign-up-password").fill(ACCOUNT.password);
  await page.click("form[action$='/actions/sign-up'] button[type=submit]");
  await page.waitForFunction(() => document.body.innerText.includes("We have emailed the address you gave"));
  await openWithLoader(page, await confirmationLink(accountsLog));
  await page.locator("#sign-in-email").fill(ACCOUNT.email);
  await page.locator("#sign-in-password").fill(ACCOUNT.password);
  await page.click("form[action$='/actions/sign-in'] button[type=submit]");
  await page.waitForFunction(
    () => location.pathname === "/dashboard" && document.querySelector("header .user-menu form"),
  );
  const cookies = await page.cookies(shellUrl);
  if (!cookies.some((c) => c.name === "mf_session")) throw new Error("signed in, but no mf_session cookie");
  return cookies.map((c) => `${c.name}=${c.value}`).join("; ");
}

// ---- Lighthouse --------------------------------------------------------------------------

function run(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(" ")} exited ${code}: ${stderr}`))));
  });
}

/** One run of Lighthouse's CLI on `url` (mobile defaults, its own fresh Chromium): its
 * report. */
async function lighthouseRun(url, cookie, file) {
  const argv = [
    process.execPath, join(BENCH, "node_modules/lighthouse/cli/index.js"), url,
    "--quiet", "--output=json", `--output-path=${file}`,
    `--only-categories=${CATEGORIES.join(",")}`,
    `--chrome-flags=--headless=new ${CHROME_FLAGS.join(" ")}`,
  ];
  if (cookie) argv.push(`--extra-headers=${JSON.stringify({ Cookie: cookie })}`);
  await run(argv, { CHROME_PATH: CHROME });
  return JSON.parse(readFileSync(file, "utf8"));
}

/** LIGHTHOUSE_RUNS runs on `url`, and from Lighthouse's median run (its own
 * computeMedianRun: the run nearest the median FCP and TTI) the four category scores
 * (0-100), the cumulative layout shift and the audits that cost points; the performance
 * score of every run beside them. */
async function lighthouse(url, cookie, fileStem) {
  const reports = [];
  for (let i = 0; i < LIGHTHOUSE_RUNS; i++) reports.push(await lighthouseRun(url, cookie, `${fileStem}-${i}.json`));
  const report = computeMedianRun(reports);
  const scores = Object.fromEntries(CATEGORIES.map((c) => [c, Math.round(report.categories[c].score * 100)]));
  // The audits that cost a category points (weighted, scored below 1).
  const failing = CATEGORIES.flatMap((c) => report.categories[c].auditRefs)
    .filter((ref) => ref.weight > 0 && report.audits[ref.id].score !== null && report.audits[ref.id].score < 1)
    .map((ref) => ref.id);
  return {
    ...scores,
    cls: report.audits["cumulative-layout-shift"].numericValue,
    fcp_ms: report.audits["first-contentful-paint"].numericValue,
    lcp_ms: report.audits["largest-contentful-paint"].numericValue,
    failing,
    performance_runs: reports.map((r) => Math.round(r.categories.performance.score * 100)),
    cls_runs: reports.map((r) => r.audits["cumulative-layout-shift"].numericValue),
  };
}

async function auditAll(shellUrl, pages, cookie, work) {
  const rows = [];
  for (const [state, header] of [["signed out", null], ["signed in", cookie]]) {
    for (const page of pages.filter((p) => !LIGHTHOUSE_PAGES.length || LIGHTHOUSE_PAGES.includes(p.path))) {
      log(`bench/browser: Lighthouse ${state} ${page.path}…`);
      const stem = join(work, `lighthouse-${rows.length}-${state.replace(" ", "-")}-${page.section}`);
      rows.push({ state, path: page.path, ...(await lighthouse(shellUrl + page.path, header, stem)) });
    }
  }
  return rows;
}

// ---- Figures -----------------------------------------------------------------------------

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The nearest-rank percentile. */
function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
}

function summary(values) {
  if (!values.length) return null;
  return { median: median(values), p95: percentile(values, 95), n: values.length };
}

const ms = (s) => (s ? `${s.median.toFixed(1)} / ${s.p95.toFixed(1)}` : "n/a");

function timingTable(rows) {
  const lines = [
    "| state | page | click → fragments in DOM (loader swap), median / p95 | of which: requests leave, last answer in (medians) | full load → fragments in DOM | full load → load event | swap faster |",
    "| --- | --- | ---: | ---: | ---: | ---: | :---: |",
  ];
  const at = (s) => (s ? `${s.median.toFixed(1)}` : "n/a");
  for (const r of rows) {
    const s = r.summary;
    const faster = s.swap && s.loadFragment && s.swap.median < s.loadFragment.median;
    const split = `${at(s.fetchStart)}, ${at(s.fetchEnd)} ms`;
    lines.push(`| ${r.state} | ${r.path} | ${ms(s.swap)} ms | ${split} | ${ms(s.loadFragment)} ms | ${ms(s.load)} ms | ${faster ? "yes" : "no"} |`);
  }
  return lines.join("\n");
}

function lighthouseTable(rows) {
  const lines = [
    "| state | page | performance (each run) | accessibility | best practices | SEO | CLS | FCP, LCP (simulated) | audits below 1 |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of rows) {
    const failing = r.failing.length ? r.failing.map((id) => `\`${id}\``).join(", ") : "none";
    const perf = `${r.performance} (${r.performance_runs.join(", ")})`;
    const paint = `${(r.fcp_ms / 1000).toFixed(2)} s, ${(r.lcp_ms / 1000).toFixed(2)} s`;
    const cls = Math.max(...r.cls_runs).toFixed(3);
    lines.push(`| ${r.state} | ${r.path} | ${perf} | ${r.accessibility} | ${r["best-practices"]} | ${r.seo} | ${cls} | ${paint} | ${failing} |`);
  }
  return lines.join("\n");
}

function markdown(result) {
  const parts = [
    `# bench/browser: what a person feels`,
    "",
    `${result.date}, ${result.runs} rounds per page after one warm-up, ${result.binaries}, loopback, headless ` +
      `Chromium ${result.chromium} (${VIEWPORT.width}x${VIEWPORT.height}); 1-minute load average ` +
      `${result.load_before.toFixed(1)} before, ${result.load_after.toFixed(1)} after.`,
    "",
    "Swap: a click on the page's header link, from another section's page, to every fragment of the " +
      "section in <main> (the click event's timeStamp to a MutationObserver); the fragment requests of the swap " +
      "(Resource Timing) leave and are answered at the times beside it, from the click. Full load: the same URL, " +
      "navigation start to the same fragments in the DOM, and to the load event.",
    "",
    timingTable(result.timings),
  ];
  if (result.lighthouse.length) {
    parts.push(
      "",
      `Lighthouse ${result.lighthouse_version} (mobile defaults, simulated throttling), ${LIGHTHOUSE_RUNS} run(s) per ` +
        "page, the scores of its median run (nearest the median FCP and TTI), the performance score of each run in " +
        "brackets, CLS the highest of the runs:",
      "",
      lighthouseTable(result.lighthouse),
    );
  }
  if (result.console_errors.length) parts.push("", `Console errors: ${result.console_errors.join("; ")}`);
  return parts.join("\n") + "\n";
}

// ---- Main --------------------------------------------------------------------------------

async function measureSite(procs, binDir, work) {
  const { shellUrl, accountsLog } = await startSite(procs, binDir, work);
  const pages = await pagesOf(shellUrl);
  const { browser, page, errors } = await launchBrowser(work);
  try {
    const timings = await measureAll(page, shellUrl, pages, RUNS, "signed out");
    const cookie = await signUpAndIn(page, shellUrl, accountsLog);
    timings.push(...(await measureAll(page, shellUrl, pages, RUNS, "signed in")));
    const chromium = await browser.version();
    await browser.close();
    const audits = LIGHTHOUSE ? await auditAll(shellUrl, pages, cookie, work) : [];
    return { timings, audits, errors, chromium };
  } finally {
    if (browser.connected) await browser.close();
  }
}

async function main() {
  const [binDir, out] = process.argv.slice(2);
  if (!binDir || !out) throw new Error("usage: node bench/browser.mjs BIN_DIR OUT");
  const { loadavg } = await import("node:os");
  const loadBefore = loadavg()[0];
  const work = mkdtempSync(join(tmpdir(), "mosaic-browser-"));
  const procs = new Procs(work);
  let measured;
  try {
    measured = await measureSite(procs, binDir, work);
  } finally {
    await procs.stopAll();
  }
  const result = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    runs: RUNS,
    binaries: basename(binDir) === "release" ? "release binaries" : `the binaries in ${binDir}`,
    chromium: measured.chromium,
    lighthouse_version: JSON.parse(readFileSync(join(BENCH, "node_modules/lighthouse/package.json"), "utf8")).version,
    load_before: loadBefore,
    load_after: loadavg()[0],
    timings: measured.timings.map((r) => ({
      ...r,
      summary: Object.fromEntries(["swap", "loader", "fetchStart", "fetchEnd", "loadFragment", "load"].map((k) => [k, summary(r[k])])),
    })),
    lighthouse: measured.audits,
    console_errors: measured.errors,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "browser.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(out, "browser.md"), markdown(result));
  process.stdout.write(markdown(result));
  log(`bench/browser: wrote ${join(out, "browser.json")} and ${join(out, "browser.md")} (logs in ${work})`);
}

main().catch((error) => {
  log(`error: ${error.stack || error}`);
  process.exit(1);
});

// The page's Fault log as a home owner reads it, in Debian's chromium driven by playwright-core, with
// no board: node faultlog_audit4_test.mjs PAGE CASES_JSON SCREENSHOT. CASES_JSON holds what a bench
// charger answered: two statuses (idle, then in fault) and its /api/v1/log before and after that
// fault. The page runs in UTC with British dates. Prints one JSON line with what the page showed.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [pageFile, casesFile, shot] = process.argv.slice(2);
const html = readFileSync(pageFile, "utf8");
const c = JSON.parse(readFileSync(casesFile, "utf8"));
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = {};
let status = c.idle, log = c.log_before, sock = null;
const rows = page => page.evaluate(() => Array.from(document.querySelectorAll("#faults tr")).map(
  tr => Array.from(tr.children).map(td => td.textContent)));
try {
  const page = await browser.newPage({ viewport: { width: 375, height: 667 }, locale: "en-GB", timezoneId: "UTC" });
  await page.route("**/*", route => {
    const path = new URL(route.request().url()).pathname;
    const json = body => route.fulfill({ contentType: "application/json", body: JSON.stringify(body) });
    if (path === "/") return route.fulfill({ contentType: "text/html", body: html });
    if (path === "/api/v1/status") return json(status);
    if (path === "/api/v1/login") return json({ ok: true, token: "t0k" });
    if (path === "/api/v1/settings") return json(c.settings);
    if (path === "/api/v1/firmware") return json({ ok: true, version: "0.1.0", active: null, update: "idle" });
    if (path === "/api/v1/history") return route.fulfill({ contentType: "text/csv", body: "session\r\n" });
    if (path === "/api/v1/log") return json(log);
    return route.fulfill({ status: 404, contentType: "application/json", body: '{"ok": false, "error": "not found"}' });
  });
  await page.routeWebSocket(/\/api\/v1\/ws$/, ws => { sock = ws; ws.send(JSON.stringify(status)); });
  await page.goto("http://evse.test/");
  await page.fill("#pw", "bench-password-0123");
  await page.click("#loginbtn");
  await page.waitForFunction(() => document.querySelectorAll("#faults tr").length > 0
                             && document.getElementById("fw").textContent.startsWith("running"));
  out.before = await rows(page);
  const n = out.before.length;
  log = c.log_after;                                 // a fault comes while the page is open
  status = c.fault;
  sock.send(JSON.stringify(status));
  await page.waitForFunction(k => document.querySelectorAll("#faults tr").length > k, n, { timeout: 30000 });
  out.after = await rows(page);
  out.page_width = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  await page.screenshot({ path: shot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

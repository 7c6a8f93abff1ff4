// The times the page shows, in Debian's chromium driven by playwright-core, with no board: node
// times_audit10_test.mjs PAGE CASES_JSON SCREENSHOT. CASES_JSON holds what a bench charger in
// Central European time answered (its status, its fault log, its history CSV in UTC and with
// ?times=local). The browser runs in New York's zone, not the charger's: every time on the page
// must still be the charger's. Prints one JSON line with what the page showed.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [pageFile, casesFile, shot] = process.argv.slice(2);
const html = readFileSync(pageFile, "utf8");
const c = JSON.parse(readFileSync(casesFile, "utf8"));
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = {};
const rows = (page, id) => page.evaluate(id => Array.from(document.querySelectorAll("#" + id + " tr")).map(
  tr => Array.from(tr.children).map(td => td.textContent)), id);
try {
  const page = await browser.newPage({ viewport: { width: 375, height: 667 }, locale: "en-US",
                                       timezoneId: "America/New_York" });
  await page.route("**/*", route => {
    const url = new URL(route.request().url());
    const path = url.pathname;
    const json = body => route.fulfill({ contentType: "application/json", body: JSON.stringify(body) });
    if (path === "/") return route.fulfill({ contentType: "text/html", body: html });
    if (path === "/api/v1/status") return json(c.status);
    if (path === "/api/v1/login") return json({ ok: true, token: "t0k" });
    if (path === "/api/v1/settings") return json(c.settings);
    if (path === "/api/v1/firmware") return json({ ok: true, version: "0.1.0", active: null, update: "idle" });
    if (path === "/api/v1/history") return route.fulfill({ contentType: "text/csv",
      body: url.searchParams.get("times") === "local" ? c.csv_local : c.csv_utc });
    if (path === "/api/v1/log") return json(c.log);
    return route.fulfill({ status: 404, contentType: "application/json", body: '{"ok": false, "error": "not found"}' });
  });
  await page.routeWebSocket(/\/api\/v1\/ws$/, ws => { ws.send(JSON.stringify(c.status)); });
  await page.goto("http://evse.test/");
  await page.fill("#pw", "bench-password-0123");
  await page.click("#loginbtn");
  await page.waitForFunction(() => document.querySelectorAll("#faults tr").length > 1
                             && document.querySelectorAll("#history tr").length > 1
                             && document.getElementById("fw").textContent.startsWith("running"));
  out.browser_zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  out.status = await rows(page, "status");
  out.faults = await rows(page, "faults");
  out.history = await rows(page, "history");
  out.text = await page.evaluate(() => document.body.innerText);
  await page.screenshot({ path: shot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

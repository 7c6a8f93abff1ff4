// The page as a home owner uses it on a phone, in a real browser with no board: Debian's chromium
// driven by playwright-core. node page_audit2_test.mjs PAGE CASES_JSON SCREENSHOT
// CASES_JSON holds what a bench charger answered: its settings reply, three statuses (idle, charging,
// the session just ended) and the history CSV before and after that session. The API and the
// WebSocket are answered here (nothing reaches a network); the test cuts the "network" twice: the
// socket closed with the charger unreachable, then a socket that goes silent (Wi-Fi gone, no FIN).
// Prints one JSON line with what the page showed.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [pageFile, casesFile, shot] = process.argv.slice(2);
const html = readFileSync(pageFile, "utf8");
const c = JSON.parse(readFileSync(casesFile, "utf8"));
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = {};
let status = c.charging, csv = c.csv_before, online = true, sock = null, busy = 0;
out.most_at_once = 0;                               // the login's follow-up requests in flight together
const until = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: 30000 });   // a condition, not a guess
const msgIs = cls => document.getElementById("msg").className === cls;
const msg = async page => [await page.locator("#msg").textContent(), await page.locator("#msg").getAttribute("class")];
try {
  const page = await browser.newPage({ viewport: { width: 375, height: 667 }, acceptDownloads: true });
  const pending = {};                             // settings saved for the next boot (as the service keeps them)
  await page.route("**/*", route => {
    const rq = route.request(), path = new URL(rq.url()).pathname;
    const json = body => route.fulfill({ contentType: "application/json", body: JSON.stringify(body) });
    if (path === "/") return route.fulfill({ contentType: "text/html", body: html });
    if (!online) return route.abort("internetdisconnected");
    if (path === "/api/v1/status") return json(status);
    if (path === "/api/v1/login") return json({ ok: true, token: "t0k" });
    const slow = reply => {                        // a board answers one after another, slowly
      out.most_at_once = Math.max(out.most_at_once, ++busy);
      setTimeout(() => { busy--; reply(); }, 300);
    };
    if (path === "/api/v1/settings" && rq.method() === "PUT") {     // saved; the reply as the service's
      const values = JSON.parse(rq.postData()).values, reboot = Object.keys(values).filter(k => !c.settings.live.includes(k));
      for (const k of reboot) pending[k] = values[k];
      return json({ ok: true, saved: values, reboot });
    }
    // what runs until the reboot, and what was saved for it
    if (path === "/api/v1/settings") return slow(() => json({ ...c.settings, pending }));
    if (path === "/api/v1/firmware") return slow(() => json({ ok: true, version: "0.1.0", active: null, update: "idle" }));
    if (path === "/api/v1/history") return slow(() => route.fulfill({ contentType: "text/csv", body: csv }));
    return route.fulfill({ status: 404, contentType: "application/json", body: '{"ok": false, "error": "not found"}' });
  });
  await page.routeWebSocket(/\/api\/v1\/ws$/, ws => {
    if (!online) return ws.close();                 // unreachable: the new socket fails
    sock = ws;
    ws.send(JSON.stringify(status));
  });
  await page.goto("http://evse.test/");
  await page.fill("#pw", "bench-password-0123");
  await page.click("#loginbtn");
  await page.locator("#s-max_current").waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#history tr").length > 1
                             && document.getElementById("fw").textContent.startsWith("running"));
  out.login_at_once = out.most_at_once;
  // a phone: nothing wider than the screen
  out.page_width = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  out.cut_off = await page.evaluate(() => Array.from(document.querySelectorAll("input,select,button,a")).filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > document.documentElement.clientWidth && !e.closest(".wide");
  }).map(e => e.id || e.textContent));
  await page.screenshot({ path: shot, fullPage: true });
  // labels: every field has one; the page's messages are announced
  out.unlabelled = await page.evaluate(() => Array.from(document.querySelectorAll("input,select")).filter(e =>
    !e.labels.length && !e.getAttribute("aria-label")).map(e => e.id));
  out.named = {};
  for (const k of ["max_current", "require_auth", "ocpp_url"]) {
    const l = page.getByLabel(k, { exact: false });
    out.named[k] = await l.count() ? await l.first().getAttribute("id") : null;
  }
  out.status_regions = await page.getByRole("status").count();
  // the session ends while the page is open: its history and CSV follow
  out.rows_while_charging = await page.locator("#history tr").count() - 1;
  csv = c.csv_after;
  status = c.done;
  sock.send(JSON.stringify(status));
  await until(page, n => document.querySelectorAll("#history tr").length - 1 > n, out.rows_while_charging);
  out.rows_after = await page.locator("#history tr").count() - 1;
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  out.csv_name = dl.suggestedFilename();
  out.csv = readFileSync(await dl.path(), "utf8");
  // the charger unreachable: the socket closes, the poll fails; then it answers again
  status = c.idle;
  online = false;
  await sock.close();
  await until(page, msgIs, "bad");
  out.closed = await msg(page);
  online = true;
  await until(page, msgIs, "ok");
  out.closed_back = await msg(page);
  // the network goes silent (no FIN: the socket stays open, nothing arrives, nothing answers)
  online = false;
  await page.waitForTimeout(8000);
  out.silent_8s = await msg(page);
  await page.waitForTimeout(9000);
  out.silent_17s = await msg(page);
  status = c.charging;
  online = true;
  await until(page, msgIs, "ok");
  out.silent_back = await msg(page);
  out.state_back = await page.locator("#state").textContent();
  // the meter stops answering: the charger says so beside its zeros
  sock.send(JSON.stringify(c.meter_failing));
  await page.locator("#v-Meter").waitFor();
  out.meter = [await page.locator("#v-Meter").count() ? await page.locator("#v-Meter").textContent() : null,
               await page.locator("#v-Meter").count() ? await page.locator("#v-Meter").getAttribute("class") : null];
  out.meter_current = await page.locator("#v-Currentperphase").textContent();
  // a setting that applies after a reboot, saved: its field shows what was saved
  await page.fill("#s-model", "garage-1");
  await page.click("#save");
  await until(page, () => document.getElementById("msg").textContent.startsWith("saved"));
  out.saved_msg = await page.locator("#msg").textContent();
  out.saved_model = await page.locator("#s-model").inputValue();
  // the page opened again before the reboot: the field shows the saved value, marked as waiting
  await page.reload();
  await page.locator("#s-model").waitFor();
  out.reopened_model = await page.locator("#s-model").inputValue();
  out.reopened_label = await page.locator("#s-model").evaluate(el => el.closest("tr").cells[0].textContent);
} catch (e) {
  out.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.error ? 1 : 0);

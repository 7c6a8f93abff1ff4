// What the page does with what a home owner types and what the charger sends back, in a real
// browser with no board: Debian's chromium driven by playwright-core.
// node input_test.mjs PAGE SETTINGS_JSON
// PAGE is firmware/www/index.html; SETTINGS_JSON the GET /api/v1/settings reply to serve. The API is
// answered here (nothing reaches a network) and every request the page sends is recorded. Prints one
// JSON line: what the settings form shows, whether a setting's value ran script, what the page sent.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [pageFile, settingsFile] = process.argv.slice(2);
const html = readFileSync(pageFile, "utf8");
const settings = readFileSync(settingsFile, "utf8");
const status = { state: "B2", iec_state: "B", state_text: "vehicle connected", offered_a: 16, duty: 26.7,
  limit_a: null, limit_by: null, contactor: false, enabled: true, authorized: true, session: false, fault: null,
  latched: null, current_a: null, power_w: null, session_wh: null, total_wh: null, temp_c: 25,
  cp_high_v: 9, cp_low_v: -12, pp_ohms: -1, diode: "ok", pilot: "pwm", tick_gap_ms: 3, wifi: null, https: "off" };
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const sent = [];
const out = {};
try {
  const page = await browser.newPage();
  await page.route("**/*", route => {
    const rq = route.request();
    const path = new URL(rq.url()).pathname;
    const json = body => route.fulfill({ contentType: "application/json", body: JSON.stringify(body) });
    if (path === "/") return route.fulfill({ contentType: "text/html", body: html });
    if (path === "/api/v1/status") return json(status);
    if (path === "/api/v1/login") return json({ ok: true, token: "t0k" });
    if (path === "/api/v1/settings" && rq.method() === "GET") return route.fulfill({ contentType: "application/json", body: settings });
    if (path === "/api/v1/firmware") return json({ ok: true, version: "0", active: null, update: "idle" });
    if (path === "/api/v1/history") return route.fulfill({ contentType: "text/csv", body: "" });
    sent.push([rq.method(), path, rq.postData()]);
    return json({ ok: true, saved: {}, reboot: [] });
  });
  await page.routeWebSocket(/\/api\/v1\/ws$/, ws => ws.send(JSON.stringify(status)));
  await page.goto("http://evse.test/");
  await page.fill("#pw", "bench-password-0123");
  await page.click("#loginbtn");
  await page.locator("#s-max_current").waitFor();
  const keys = Object.keys(JSON.parse(settings).settings);
  out.fields = {};
  for (const k of keys) {
    const el = page.locator("#s-" + k);
    if (await el.count()) {
      await el.focus();
      out.fields[k] = await el.inputValue();
    }
  }
  await page.waitForTimeout(200);
  out.script_ran = await page.evaluate(() => window.x !== undefined);
  await page.click("#save");                                   // nothing edited
  await page.waitForTimeout(200);
  out.save_msg = await page.locator("#msg").textContent();
  const limit = async text => {                                 // typed as a person types
    await page.locator("#amps").fill("");
    await page.locator("#amps").focus();
    await page.keyboard.type(text);
    const before = sent.length;
    await page.click("#setlimit");
    await page.waitForTimeout(200);
    return { typed: text, sent: sent.slice(before), msg: await page.locator("#msg").textContent(),
             bad: (await page.locator("#msg").getAttribute("class")) === "bad" };
  };
  out.limits = [await limit("1e"), await limit(""), await limit("-"), await limit("10")];
  const before = sent.length;
  await page.click("#nolimit");
  await page.waitForTimeout(200);
  out.remove = sent.slice(before);
} finally {
  await browser.close();
}
out.sent = sent;
console.log(JSON.stringify(out));

// The web page in a real browser: Debian's chromium driven by playwright-core (pinned in
// package-lock.json). node page_test.mjs URL PASSWORD SCREENSHOT
// Opens the page, logs in, sets the current limit to 10 A and waits for the page to show the
// duty the board then puts on the pilot (16.7 %, PWM-quantised); then logs out, and tries the old
// token once more (a logout it cannot change anything with); prints one JSON line with what it saw.
import { chromium } from "playwright-core";

const [url, password, shot] = process.argv.slice(2);
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = {};
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
  const errors = [];                    // a request the page makes that fails shows here (the favicon's 404)
  page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url);
  const offered = page.locator("#v-Offered");
  await offered.waitFor();
  out.before = await offered.textContent();
  out.controls_hidden_before_login = await page.locator("#ctl").isHidden();
  out.network_shown = await page.locator("#net").isVisible();      // the virtual board: no Wi-Fi, no HTTPS
  out.notice_shown = await page.locator("#ap").isVisible();
  await page.fill("#pw", password);
  await page.click("#loginbtn");
  await page.locator("#ctl").waitFor({ state: "visible" });
  await page.locator("#s-max_current").waitFor();       // the settings table, behind the password
  await page.fill("#amps", "10");
  await page.click("#setlimit");
  try {
    await page.waitForFunction(() => document.getElementById("v-Offered").textContent.startsWith("10.0 A (duty 16."),
                               null, { timeout: 20000 });
  } catch (e) {
    out.error = String(e);
  }
  out.after = await offered.textContent();
  out.message = await page.locator("#msg").textContent();
  await page.screenshot({ path: shot, fullPage: true });
  out.console_errors = errors.slice();  // (the old token's 401 below is asked for)
  const old = await page.evaluate(() => sessionStorage.getItem("evse-token"));
  await page.click("#logout");
  await page.locator("#login").waitFor({ state: "visible" });
  out.controls_hidden_after_logout = await page.locator("#ctl").isHidden();
  out.token_kept = await page.evaluate(() => sessionStorage.getItem("evse-token"));
  out.old_token_answer = await page.evaluate(async t => (await fetch("/api/v1/logout",
    { method: "POST", headers: { Authorization: "Bearer " + t } })).status, old);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.error ? 1 : 0);

// The Wi-Fi set-up page (firmware/evse/services/wifisetup.py) on a phone, with no board: Debian's
// chromium driven by playwright-core. node setup_page_test.mjs PAGE CASES_JSON [SCREENSHOT]
// PAGE is unused (the set-up page is no file: CASES_JSON holds {"html": ..., "passwords": [...]});
// each password is pasted into the form, Join pressed, and what the page POSTs to /setup is caught
// (answered here, nothing reaches a network); prints one JSON line: the bodies sent, in order.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [, casesFile] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = [];
try {
  for (const pw of cases.passwords) {
    const page = await browser.newPage();
    let sent = null;
    await page.route("**/*", route => {
      const req = route.request();
      const path = new URL(req.url()).pathname;
      if (path === "/setup" && req.method() === "GET") return route.fulfill({ contentType: "text/html", body: cases.html });
      if (path === "/setup") { sent = JSON.parse(req.postData()); return route.fulfill({ contentType: "application/json", body: '{"ok":true,"next":"saved"}' }); }
      if (path === "/setup/net") return route.fulfill({ contentType: "application/json", body: '{"ok":true,"wifi":"connecting","ssid":"home"}' });
      return route.fulfill({ status: 404, body: "not here" });
    });
    await page.goto("http://192.168.4.1/setup");
    await page.locator("input[name=ssid]").fill("home");
    await page.locator("input[name=password]").focus();
    await page.keyboard.insertText(pw);               // pasted, as from a password manager
    await page.locator("button").click();
    await page.waitForFunction(() => document.getElementById("m").textContent !== "");
    out.push(sent);
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

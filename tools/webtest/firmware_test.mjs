// The web page's charging history and firmware update in a real browser (Debian's chromium driven
// by playwright-core). node firmware_test.mjs URL PASSWORD upload BUNDLE
//                      node firmware_test.mjs URL PASSWORD history SCREENSHOT
// upload: logs in, chooses the bundle file in the form, uploads it, prints what the page said.
// history: logs in, waits for the history table's sessions and the firmware line, follows the CSV
// download link, takes the screenshot. Each prints one JSON line with what it saw.
import { chromium } from "playwright-core";

const [url, password, mode, path] = process.argv.slice(2);
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = {};
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 1800 }, acceptDownloads: true });
  await page.goto(url);
  await page.fill("#pw", password);
  await page.click("#loginbtn");
  await page.locator("#ctl").waitFor({ state: "visible" });
  await page.waitForFunction(() => document.getElementById("fw").textContent.startsWith("running"), null, { timeout: 20000 });
  out.firmware = await page.locator("#fw").textContent();
  if (mode === "upload") {
    await page.setInputFiles("#fwfile", path);
    await page.click("#fwform button");
    await page.waitForFunction(() => /checked: installs|firmware:|error/.test(document.getElementById("msg").textContent),
                               null, { timeout: 60000 });
    out.message = await page.locator("#msg").textContent();
  } else {
    await page.waitForFunction(() => document.querySelectorAll("#history tr").length >= 2
                               && document.querySelector("#history th"), null, { timeout: 20000 });
    out.header = await page.locator("#history th").allTextContents();
    out.rows = await page.locator("#history tr").evaluateAll(rs => rs.slice(1).map(r => Array.from(r.cells, c => c.textContent)));
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
    out.csv_name = dl.suggestedFilename();
    const chunks = [];
    for await (const c of await dl.createReadStream()) chunks.push(c);
    out.csv = Buffer.concat(chunks).toString();
    await page.screenshot({ path, fullPage: true });
  }
} catch (e) {
  out.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.error ? 1 : 0);

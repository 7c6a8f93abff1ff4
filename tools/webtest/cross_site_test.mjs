// A page of another site open in the owner's browser, with the charger at BASE: Debian's chromium
// driven by playwright-core. node cross_site_test.mjs EVIL_URL BASE
// The page at EVIL_URL (another origin on the same network, served by the test) frames the charger's
// page (clickjacking) and opens its WebSocket; prints one JSON line: whether the frame shows the
// charger's page, what the WebSocket gave (a message or an error) and what the browser said.
import { chromium } from "playwright-core";

const [evil] = process.argv.slice(2);
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = { said: [] };
try {
  const page = await browser.newPage();
  page.on("console", m => out.said.push(m.text()));
  await page.goto(evil);
  await page.waitForFunction(() => window.ws !== "waiting", null, { timeout: 10000 });
  await page.waitForTimeout(1000);
  out.ws = await page.evaluate(() => window.ws);
  const frame = page.frames().find(f => f !== page.mainFrame());
  out.frame_url = frame.url();
  out.framed = await frame.evaluate(() => document.title === "EVSE").catch(() => false);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

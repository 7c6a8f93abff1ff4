// The page's network card and set-up notice in a real browser, with no board: Debian's chromium driven
// by playwright-core. node network_test.mjs PAGE CASES_JSON [SCREENSHOT]
// PAGE is firmware/www/index.html; CASES_JSON a file holding a list of status snapshots. Each one is
// served as GET /api/v1/status and pushed on /api/v1/ws (both answered here, nothing reaches a
// network); prints one JSON line: per case, what the page shows of the network.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [pageFile, casesFile, shot] = process.argv.slice(2);
const html = readFileSync(pageFile, "utf8");
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = [];
try {
  for (const st of cases) {
    const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
    await page.route("**/*", route => {
      const path = new URL(route.request().url()).pathname;
      if (path === "/") return route.fulfill({ contentType: "text/html", body: html });
      if (path === "/api/v1/status") return route.fulfill({ contentType: "application/json", body: JSON.stringify(st) });
      return route.fulfill({ status: 404, body: "not here" });
    });
    await page.routeWebSocket(/\/api\/v1\/ws$/, ws => ws.send(JSON.stringify(st)));
    await page.goto("http://evse.test/");
    await page.locator("#v-State").waitFor();
    const note = page.locator("#ap");            // read without waiting: a page without them says so
    out.push({
      network_shown: await page.locator("#net").isVisible(),
      network: await page.locator("#nett tr").evaluateAll(trs => trs.map(tr =>
        [tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[1].className])),
      notice_shown: await note.isVisible(),
      notice: await page.evaluate(() => document.getElementById("ap")?.textContent ?? null),
      notice_link: await page.locator("#ap a").evaluateAll(as => as.map(a => a.getAttribute("href"))),
    });
    if (shot && out[out.length - 1].notice_shown) await page.screenshot({ path: shot, fullPage: true });
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

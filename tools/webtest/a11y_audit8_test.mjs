// The page and the Wi-Fi set-up page on a phone, with a screen reader's and a keyboard's needs, checked
// by an independent reference: axe-core (WCAG 2.2 A/AA and its best practices) in Debian's chromium
// driven by playwright-core. node a11y_audit8_test.mjs PAGE CASES_JSON SCREENSHOT
// CASES_JSON holds what a bench charger answered (its settings, statuses idle, charging and in fault,
// its fault log, its history CSV, its firmware line before and during an update) and the set-up
// page's HTML; the API and the WebSocket are answered here (nothing reaches a network).
// Each view is opened on three phones (320x568, 360x740, 390x844; 3 device pixels a CSS pixel, touch);
// prints one JSON line: per phone and view, axe's violations {rule: [targets]}, the page's width
// against the screen's, the controls reaching past the screen; and the keyboard's walk.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const [pageFile, casesFile, shot] = process.argv.slice(2);
const html = readFileSync(pageFile, "utf8");
const c = JSON.parse(readFileSync(casesFile, "utf8"));
const axe = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
// target-size (WCAG 2.5.8, 24 CSS px) is off unless asked for
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];
const PHONES = [[320, 568], [360, 740], [390, 844]];     // 320: WCAG 1.4.10's reflow width
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
const out = { phones: {} };

async function audit(page) {
  await page.addScriptTag({ content: axe });
  const r = await page.evaluate(tags => window.axe.run(document, { runOnly: { type: "tag", values: tags },
                                                                     rules: { "target-size": { enabled: true } } }), TAGS);
  const v = {};
  for (const x of r.violations) v[x.id] = x.nodes.map(n => n.target.join(" "));
  const box = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    return { width: [document.documentElement.scrollWidth, w],
             past: Array.from(document.querySelectorAll("input,select,button,a,td,th,p,h1,h2")).filter(e => {
               const r = e.getBoundingClientRect();
               return r.width > 0 && r.right > w + 0.5 && !e.closest(".wide");
             }).map(e => e.id || e.tagName + ":" + e.textContent.slice(0, 20)) };
  });
  return { axe: v, ...box };
}

// what a screen reader reads out without the focus moving there: the text of the live regions
const announced = page => page.evaluate(() => Array.from(document.querySelectorAll(
  "[aria-live]:not([aria-live=off]),[role=status],[role=alert],[role=log]")).map(e => e.textContent).join(" | "));

async function open(ctx, state) {
  const page = await ctx.newPage();
  state.status = state.status || c.idle;
  await page.route("**/*", route => {
    const rq = route.request(), path = new URL(rq.url()).pathname;
    const json = body => route.fulfill({ contentType: "application/json", body: JSON.stringify(body) });
    if (path === "/") return route.fulfill({ contentType: "text/html", body: html });
    if (path === "/setup") return route.fulfill({ contentType: "text/html", body: c.setup_html });
    if (path === "/api/v1/status") return json(state.status);
    if (path === "/api/v1/login") return json({ ok: true, token: "t0k" });
    if (path === "/api/v1/settings") return json(c.settings);
    if (path === "/api/v1/log") return json(state.log || c.log);
    if (path === "/api/v1/history") return route.fulfill({ contentType: "text/csv", body: c.csv });
    if (path === "/api/v1/firmware" && rq.method() === "POST") {
      state.fw = c.fw_waiting;
      return json({ ok: true, version: "0.2.0", install: "when the session ends" });
    }
    if (path === "/api/v1/firmware") return json(state.fw || c.fw_idle);
    return route.fulfill({ status: 404, contentType: "application/json", body: '{"ok": false, "error": "not found"}' });
  });
  await page.routeWebSocket(/\/api\/v1\/ws$/, ws => { state.ws = ws; ws.send(JSON.stringify(state.status)); });
  await page.goto("http://evse.test/");
  await page.locator("#state").filter({ hasText: state.status.state }).waitFor();
  return page;
}

async function login(page) {
  await page.fill("#pw", "bench-password-0123");
  await page.click("#loginbtn");
  await page.locator("#s-max_current").waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#history tr").length > 1
                             && document.getElementById("fw").textContent.startsWith("running"));
}

// Tab from the top of the page to its end: which controls the keyboard reached, in order, and
// whether each showed where the focus is (an outline or a ring drawn around it)
async function walk(page) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const seen = [], unmarked = [];
  for (let i = 0; i < 200; i++) {
    await page.keyboard.press("Tab");
    const f = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const s = getComputedStyle(e);
      return { name: e.id || e.dataset.cmd || e.getAttribute("aria-label") || e.tagName + ":" + e.textContent.slice(0, 20),
               marked: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none" };
    });
    if (!f || seen.includes(f.name)) break;
    seen.push(f.name);
    if (!f.marked) unmarked.push(f.name);
  }
  const all = await page.evaluate(() => Array.from(document.querySelectorAll("input,select,button,a[href],[tabindex]"))
    .filter(e => e.getClientRects().length && e.tabIndex >= 0)
    .map(e => e.id || e.dataset.cmd || e.getAttribute("aria-label") || e.tagName + ":" + e.textContent.slice(0, 20)));
  return { order: seen, missed: all.filter(n => !seen.includes(n)), unmarked };
}

// logged out, with the keyboard alone: Tab to the password, type it, Enter; then to "Log out", Enter.
// Where the focus is after each (the element's id, or its tag and text), and what Tab reaches next.
async function keyLogin(page) {
  const at = () => page.evaluate(() => { const e = document.activeElement;
    return e === document.body ? "BODY" : /^H\d$/.test(e.tagName) ? e.tagName + ":" + e.textContent
      : e.id || e.dataset.cmd || e.tagName + ":" + e.textContent.slice(0, 20); });
  const got = {};
  for (let i = 0; i < 10 && await at() !== "pw"; i++) await page.keyboard.press("Tab");
  await page.keyboard.type("bench-password-0123");
  await page.keyboard.press("Enter");
  await page.locator("#s-max_current").waitFor();
  got.after_login = await at();
  await page.keyboard.press("Tab");
  got.then_tab = await at();
  for (let i = 0; i < 10 && await at() !== "logout"; i++) await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.locator("#login").waitFor({ state: "visible" });
  got.after_logout = await at();
  await page.close();
  return got;
}

try {
  for (const [w, h] of PHONES) {
    const ctx = await browser.newContext({ viewport: { width: w, height: h }, deviceScaleFactor: 3, isMobile: true,
                                           hasTouch: true });
    const views = {};
    let st = { status: { ...c.idle, ...c.net_ap } };
    let page = await open(ctx, st);
    views.logged_out = await audit(page);
    await page.close();
    st = {};
    page = await open(ctx, st);
    await login(page);
    views.logged_in = await audit(page);
    if (w === 360) {
      await page.screenshot({ path: shot, fullPage: true });
      out.keyboard = await walk(page);
      out.keyboard.login = await keyLogin(await open(ctx, {}));
    }
    st.status = c.charging;
    st.ws.send(JSON.stringify(c.charging));
    await page.locator("#state").filter({ hasText: "C2" }).waitFor();
    views.charging = await audit(page);
    views.charging.announced = await announced(page);
    st.status = c.fault;
    st.log = c.log_fault;
    st.ws.send(JSON.stringify(c.fault));
    await page.locator("#v-Fault.bad").waitFor();
    await page.waitForFunction(() => document.querySelectorAll("#faults tr").length > 1);
    views.fault = await audit(page);
    views.fault.announced = await announced(page);
    await page.setInputFiles("#fwfile", { name: "evse-0.2.0.bin", mimeType: "application/octet-stream",
                                           buffer: Buffer.from("bundle") });
    await page.click("#fwform button");
    await page.locator("#fw").filter({ hasText: "update: waiting" }).waitFor();
    views.firmware_update = await audit(page);
    await page.close();
    page = await ctx.newPage();
    await page.route("**/*", route => {
      const path = new URL(route.request().url()).pathname, json = b => route.fulfill({ contentType: "application/json", body: b });
      if (path === "/setup" && route.request().method() === "POST") {
        return json('{"ok":true,"next":"saved: the charger joins home now. This page says when it has, and its address there"}');
      }
      if (path === "/setup/net") return json('{"ok":true,"wifi":"waiting to retry","ssid":"home"}');
      return route.fulfill({ contentType: "text/html", body: c.setup_html });
    });
    await page.goto("http://192.168.4.1/setup");
    views.setup = await audit(page);
    await page.locator("input[name=ssid]").fill("home");
    await page.locator("button").click();
    await page.waitForFunction(() => document.getElementById("m").textContent.startsWith("Not joined"));
    views.setup.announced = await announced(page);
    await page.close();
    await ctx.close();
    out.phones[w + "x" + h] = views;
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

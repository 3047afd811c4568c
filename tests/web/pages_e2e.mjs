// Playwright (playwright-core, Debian's chromium) over the gateway's pages; started by
// pages_e2e_test.cpp with a running gateway whose site clock moves on and whose devices report.
//   node pages_e2e.mjs --web-dir <repo>/web --url http://127.0.0.1:PORT --resident USER --operator USER
//                      --password PW --shots <dir>
// Exits 0 when every check held; otherwise prints the failed check and exits 1. Every wait has a
// deadline; nothing depends on the machine's time of day or speed beyond those deadlines.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const arg = (name) => {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0 || at + 1 >= process.argv.length) throw new Error(`pages_e2e.mjs: --${name} is required`);
  return process.argv[at + 1];
};
const webDir = arg('web-dir');
const url = arg('url');
const password = arg('password');
const shots = arg('shots');
// playwright-core comes from the pages' own npm modules (web/package-lock.json).
const { chromium } = createRequire(join(webDir, 'package.json'))('playwright-core');

const WAIT_MS = 20000;
const WIDTHS = [360, 768, 1366];

// The cards and the page itself fit their width: nothing scrolls sideways.
async function assertNoHorizontalOverflow(page, who, width) {
  const overflowing = await page.evaluate(() => {
    const out = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) out.push(`page ${root.scrollWidth} > ${root.clientWidth}`);
    for (const card of document.querySelectorAll('.card, .charger, form')) {
      if (card.offsetParent === null) continue;  // hidden
      if (card.scrollWidth > card.clientWidth) {
        out.push(`${card.id || card.className} ${card.scrollWidth} > ${card.clientWidth}`);
      }
    }
    return out;
  });
  assert.deepEqual(overflowing, [], `${who} at ${width} px: horizontal overflow`);
}

async function checkLayouts(page, who) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width < 800 ? 800 : 900 });
    // uPlot follows the window's resize; the page re-renders 150 ms after it.
    await page.waitForTimeout(400);
    await assertNoHorizontalOverflow(page, who, width);
    await page.screenshot({ path: join(shots, `${who}-${width}.png`), fullPage: true });
  }
}

async function logIn(page, user) {
  await page.goto(url + '/');
  await page.locator('#login-form input[name=user]').fill(user);
  await page.locator('#login-form input[name=password]').fill(password);
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('#app-main').waitFor({ state: 'visible', timeout: WAIT_MS });
}

async function resident(browser) {
  const context = await browser.newContext({ viewport: { width: 360, height: 800 }, isMobile: true,
                                             hasTouch: true, deviceScaleFactor: 2, locale: 'zh-CN' });
  const page = await context.newPage();
  await logIn(page, arg('resident'));
  const card = page.locator('#chargers li[data-charger="p1"]');
  const plan = card.locator('.plan');
  await plan.waitFor({ timeout: WAIT_MS });
  // A resident sees their own pile only, and not the operator's panels.
  assert.equal(await page.locator('#chargers li').count(), 1, 'a resident sees only their pile');
  assert.equal(await page.locator('.kpi-card').isVisible(), false, 'the KPI panel is the operator\'s');
  await page.locator('#my-history-card').waitFor({ state: 'visible', timeout: WAIT_MS });
  await card.locator('.plan-chart canvas').first().waitFor({ timeout: WAIT_MS });
  await card.locator('.charge-now').waitFor({ timeout: WAIT_MS });
  assert.match(await card.locator('.charge-now').innerText(), /立即充电：当前 ¥1\.00\/kWh/);

  // Departure and energy: the plan follows.
  const energy = card.locator('input[name=energy_kwh]');
  const wanted = (await energy.inputValue()) === '12' ? '13' : '12';
  await card.locator('input[name=departure]').fill('06:00');
  await energy.fill(wanted);
  await card.locator('button.save').click();
  await card.locator('.save-note.save-ok').waitFor({ timeout: WAIT_MS });
  await page.waitForFunction((kwh) => {
    const line = document.querySelector('#chargers li[data-charger="p1"] .plan');
    return line && line.textContent.includes(`充入 ${kwh}.0 kWh`);
  }, wanted, { timeout: WAIT_MS });
  // Peak now, valley from 23:00: the plan waits, so it costs less than charging now.
  await page.waitForFunction(() => {
    const s = document.querySelector('#chargers li[data-charger="p1"] .plan-summary');
    return s && /比立即充电省 ¥\d+\.\d\d/.test(s.textContent);
  }, null, { timeout: WAIT_MS });
  await checkLayouts(page, 'resident');

  // The QR code on the shared pile: open it, give departure and energy, start; it becomes mine.
  await page.setViewportSize({ width: 360, height: 800 });
  await page.goto(url + '/#pile=s1');
  await page.locator('#qr-form').waitFor({ state: 'visible', timeout: WAIT_MS });
  await page.locator('#qr-form input[name=departure]').fill('07:00');
  await page.locator('#qr-form input[name=energy_kwh]').fill('8');
  await page.locator('#qr-form button[type=submit]').click();
  await page.locator('#chargers li[data-charger="s1"] .plan').waitFor({ timeout: WAIT_MS });
  assert.equal(await page.locator('#qr-pile').isVisible(), false, 'the claim card goes once the pile is mine');

  // English on the switch.
  await page.locator('#lang-toggle').click();
  await page.locator('#chargers li[data-charger="p1"] .charge-now', { hasText: 'Charge now' }).waitFor({ timeout: WAIT_MS });
  await context.close();
}

async function operator(browser) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  await logIn(page, arg('operator'));
  const chart = page.locator('#history-chart');
  await chart.locator('canvas').first().waitFor({ timeout: WAIT_MS });
  // The chart grows with the pushes: its point count (in its label) rises while the footer says
  // the data comes over the WebSocket, not from polling.
  const points = async () => Number(((await chart.getAttribute('aria-label')) || '').match(/(\d+) 个数据点/)?.[1] || 0);
  const before = await points();
  await page.waitForFunction((n) => {
    const label = document.getElementById('history-chart').getAttribute('aria-label') || '';
    const m = label.match(/(\d+) 个数据点/);
    return m && Number(m[1]) > n;
  }, before, { timeout: WAIT_MS });
  assert.match(await page.locator('#source').innerText(), /实时推送/);
  assert.ok((await points()) > before);
  // The next 24 h of the plan are on the same chart, and the platform's sync state beside it.
  assert.match((await chart.getAttribute('aria-label')) || '', /未来 \d+ 个计划时段/);
  assert.match(await page.locator('#platform').innerText(), /未启用/);
  assert.equal(await page.locator('#chargers li').count(), 2, 'the operator sees every pile');
  assert.equal(await page.locator('.kpi-card').isVisible(), true);
  // Both cars in the sessions table, the shared one billed to the resident who claimed it.
  await page.locator('#sessions tr[data-charger="s1"]', { hasText: '1-1-101' }).waitFor({ timeout: WAIT_MS });
  assert.equal(await page.locator('#sessions tbody tr').count(), 2);
  // A household's invite: a one-time link the operator hands over.
  await page.locator('#invite-create select[name=household]').selectOption('1-1-101');
  await page.locator('#invite-create button[type=submit]').click();
  await page.locator('#invite-link .invite-url', { hasText: '#invite=' }).waitFor({ timeout: WAIT_MS });
  await checkLayouts(page, 'operator');
  await context.close();
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // As root chromium needs --no-sandbox; the test network has no uplink to try.
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
let failed = false;
for (const [name, check] of [['resident', resident], ['operator', operator]]) {
  try {
    await check(browser);
    console.log(`ok ${name}`);
  } catch (e) {
    failed = true;
    console.log(`FAILED ${name}: ${e.stack || e}`);
  }
}
await browser.close();
process.exit(failed ? 1 : 0);

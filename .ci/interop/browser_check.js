// Headless Chromium (Debian's package) against the echo_server test page,
// driven with `playwright-core` (npm; it brings no browser of its own).
//
//   NODE_PATH=<dir>/node_modules node browser_check.js http://127.0.0.1:PORT/ [CHROMIUM]
//
// Loads the page, waits for "open", requires the page's `ws.extensions` to
// name permessage-deflate (Chromium offers it; echo_server accepts it),
// clicks "send text" and "send binary", waits for both echoes in the page's
// log; clicks "send 1 MiB ×3" (compressible text, the same as binary,
// random bytes) and "send 40 small" (similar JSON: the shared window at
// work), which the page compares with their echoes; closes with 1000 and
// requires the status "closed 1000 clean"; then reloads and does the same
// with 4001. (A page cannot choose frames: Chromium decides how a message
// is fragmented; run through ws_tap.py to see the frames.)
// Everything is read from the page DOM. Prints one `ok: ...` line per
// check; exits 1 with `FAIL: ...` on the first failure.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const url = process.argv[2];
const executablePath = process.argv[3] || '/usr/bin/chromium';
const TIMEOUT_MS = 15000;
if (!url || !url.startsWith('http://')) {
  console.error('usage: node browser_check.js http://127.0.0.1:PORT/ [CHROMIUM]');
  process.exit(2);
}

const text = (page, selector) => page.locator(selector).textContent();

// Waits until the status span reads `want`; fails with what it read instead.
async function waitStatus(page, want) {
  try {
    await page.waitForFunction(
      (w) => document.getElementById('status').textContent === w,
      want,
      { timeout: TIMEOUT_MS },
    );
  } catch (e) {
    throw new Error(`status is '${await text(page, '#status')}', expected '${want}'`);
  }
}

// Waits until the log has an entry equal to `want`.
async function waitLog(page, want) {
  try {
    await page.waitForFunction(
      (w) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === w),
      want,
      { timeout: TIMEOUT_MS },
    );
  } catch (e) {
    const log = await page.locator('#log li').allTextContents();
    throw new Error(`the log lacks '${want}' (log: ${JSON.stringify(log)})`);
  }
}

async function session(page, code) {
  await page.goto(url, { timeout: TIMEOUT_MS });
  await waitStatus(page, 'open');
  const message = await page.locator('#text').inputValue();
  await page.click('#send-text');
  await waitLog(page, `text echo: ${message}`);
  await page.click('#send-binary');
  await waitLog(page, 'binary echo: 1,2,3,250');
  console.log(`ok: chromium ${url}: text and binary echoes in the page log`);
  const extensions = await text(page, '#extensions');
  if (!/^permessage-deflate(;|$)/.test(extensions)) throw new Error(`ws.extensions is '${extensions}', not permessage-deflate`);
  console.log(`ok: chromium ${url}: ws.extensions = '${extensions}'`);
  await page.click('#send-large');
  for (const label of ['1 MiB text', '1 MiB binary', '1 MiB random']) await waitLog(page, `${label} echo: identical`);
  await page.click('#send-burst');
  await waitLog(page, 'small 39 echo: identical');
  const log = await page.locator('#log li').allTextContents();
  const bad = log.filter((l) => l.includes('DIFFERS'));
  if (bad.length) throw new Error(`echoes differ: ${bad.join('; ')}`);
  console.log(`ok: chromium ${url}: 1 MiB text, binary and random, then 40 small JSON messages echo identical`);
  await page.fill('#code', String(code));
  await page.click('#close');
  await waitStatus(page, `closed ${code} clean`);
  console.log(`ok: chromium ${url}: close ${code} -> status 'closed ${code} clean'`);
}

(async () => {
  // A fresh profile for every run, removed at the end.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'protoswitch-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      timeout: 60000,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await session(page, 1000);
    await session(page, 4001);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  } finally {
    if (context) await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error(`FAIL: chromium: ${e.message}`);
  process.exit(1);
});

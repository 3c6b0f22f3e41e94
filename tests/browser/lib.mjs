// Shared by the webmail browser tests: launches Debian's /usr/bin/chromium (headless,
// --no-sandbox) through playwright-core, records console errors, page errors, dialogs
// and every request, signs in, takes screenshots into $REFMAIL_ARTIFACTS, and prints
// one "RESULT {json}" line for the Python driver (tests/e2e/test_webmail.py).
import { chromium } from 'playwright-core';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const env = (k) => {
  const v = process.env[k];
  if (v === undefined || v === '') throw new Error(`missing environment variable ${k}`);
  return v;
};

export const base = () => env('REFMAIL_URL');
export const artifacts = () => {
  const dir = process.env.REFMAIL_ARTIFACTS || path.join(process.cwd(), 'artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
};

export function check(cond, message) {
  if (!cond) throw new Error('check failed: ' + message);
}

// Requests refmaild itself logged (log_level = "debug": one http.request line each,
// written when the answer is complete) whose target starts with `prefix`.
export function serverRequests(prefix) {
  const text = fs.readFileSync(env('REFMAIL_LOG'), 'utf8');
  return text.split('\n').filter((l) => l.includes(' http.request ') && /target="?/.test(l) && l.includes(prefix)).length;
}

export function sha256File(p) {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

// The one network error the page produces on purpose: the upload digest pre-check
// answers 412 "send the bytes" for a file the server does not hold (RFC 9530 flow).
function expected(msg) {
  const loc = msg.location ? msg.location().url || '' : '';
  return /status of 412/.test(msg.text()) && loc.includes('/jmap/upload/');
}

export async function launch({ width = 1280, height = 860, isMobile = false } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width, height }, isMobile,
    deviceScaleFactor: 1 });
  const page = await context.newPage();
  const log = { console: [], requests: [], dialogs: [], allow: [] };
  page.on('console', (m) => {
    if (m.type() !== 'error' || expected(m)) return;
    if (log.allow.some((re) => re.test(m.text()))) return;  // a failure the test provokes
    const l = m.location ? m.location() : {};
    log.console.push(`${m.text()} @ ${l.url || '?'}:${l.lineNumber ?? ''}`);
  });
  page.on('pageerror', (e) => log.console.push('pageerror: ' + e.message));
  page.on('dialog', async (d) => {
    log.dialogs.push(d.message());
    if (d.type() === 'confirm' && page.__acceptConfirm) await d.accept(); else await d.dismiss();
  });
  context.on('request', (r) => log.requests.push({ method: r.method(), url: r.url(), req: r }));
  // The browser's own network log (CDP), which also sees download navigations.
  log.network = [];
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (e) => log.network.push({ method: e.request.method, url: e.request.url }));
  return { browser, context, page, log };
}

export async function signIn(page, user, password) {
  await page.goto(base() + '/');
  await page.locator('#login-user').fill(user);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-submit').click();
  await page.locator('#message-list').waitFor();
  await page.locator('#list-title:not(:empty)').waitFor();  // the first page has loaded
  await page.locator('#signed-in').waitFor();
}

export async function shot(page, name) {
  const p = path.join(artifacts(), name + '.png');
  await page.screenshot({ path: p });
  return p;
}

// Runs a test body; prints RESULT and exits 0, or prints the failure and exits 1.
export async function run(body) {
  let ctx;
  const result = {};
  try {
    await body(result, (c) => { ctx = c; });
    if (ctx) {
      check(ctx.log.console.length === 0, 'console errors: ' + JSON.stringify(ctx.log.console));
      check(ctx.log.dialogs.filter((d) => !d.startsWith('Delete this message')).length === 0,
        'unexpected dialogs: ' + JSON.stringify(ctx.log.dialogs));
    }
    console.log('RESULT ' + JSON.stringify(result));
    if (ctx) await ctx.browser.close();
    process.exit(0);
  } catch (e) {
    console.error('FAIL ' + (e && e.stack ? e.stack : e));
    if (ctx) {
      try { await shot(ctx.page, 'failure-' + path.basename(process.argv[1], '.mjs')); } catch { /* ignore */ }
      console.error('console errors: ' + JSON.stringify(ctx.log.console));
      await ctx.browser.close();
    }
    process.exit(1);
  }
}

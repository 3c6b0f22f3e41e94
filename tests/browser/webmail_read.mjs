// Reading: sign in, the inbox with unread counts and attachment links, opening a
// message with a 5 MB attachment without fetching any attachment byte (network log),
// downloads from the message and from the list (sha256 for the driver to compare),
// an XSS message that must run nothing, cid and remote images, phone-width layout,
// and screenshots of each screen.
import { launch, signIn, shot, run, check, env, sha256File, base, serverRequests } from './lib.mjs';

const downloads = (log) => log.network.filter((r) => r.url.includes('/jmap/download/'));

async function download(page, locator) {
  const [dl] = await Promise.all([page.waitForEvent('download'), locator.click()]);
  const p = await dl.path();
  return { sha: sha256File(p), name: dl.suggestedFilename() };
}

await run(async (result, keep) => {
  const ctx = await launch();
  keep(ctx);
  const { page, log } = ctx;
  const big = env('BIG_SUBJECT'), bigName = env('BIG_NAME');

  await page.goto(base() + '/');
  await page.locator('#login-user').waitFor();
  await shot(page, 'login');
  await signIn(page, env('REFMAIL_USER'), env('REFMAIL_PASSWORD'));
  result.signed_in_as = await page.locator('#signed-in').textContent();
  result.admin_link = await page.locator('#admin-link').count();  // alice is no admin
  const bigRow = page.locator('.row', { hasText: big });
  await bigRow.waitFor();
  result.inbox_unread = Number(await page.locator('#mailboxes [data-role="inbox"] .unread-count').textContent());
  result.list_attachment_names = await bigRow.locator('.att-link').allTextContents();
  await shot(page, 'inbox');

  // Open the 5 MB message: the body must appear with no download request at all.
  const before = downloads(log).length;
  const serverBefore = serverRequests('/jmap/download/');
  const t0 = Date.now();
  await bigRow.locator('.subject').click();
  await page.locator('#reader-subject', { hasText: big }).waitFor();
  await page.locator('#plain-body').waitFor();
  result.open_ms = Date.now() - t0;
  await page.waitForTimeout(1000);
  result.downloads_after_open = downloads(log).length - before;
  result.server_downloads_after_open = serverRequests('/jmap/download/') - serverBefore;
  result.reader_attachments = await page.locator('#attachments li').allTextContents();
  await shot(page, 'reader');

  const fromReader = await download(page, page.locator('#attachments .att-download', { hasText: bigName }));
  result.reader_sha = fromReader.sha;
  result.reader_name = fromReader.name;
  await page.waitForTimeout(300);  // the log line follows the last byte
  result.server_downloads_after_click = serverRequests('/jmap/download/') - serverBefore;
  const fromList = await download(page, bigRow.locator('.att-link', { hasText: bigName }));
  result.list_sha = fromList.sha;

  // Show original: the rebuilt raw message.
  const orig = await download(page, page.locator('#show-original'));
  result.original_sha = orig.sha;

  // The hostile message.
  await page.locator('.row', { hasText: env('XSS_SUBJECT') }).locator('.subject').click();
  const frameEl = page.locator('iframe.mail-frame');
  await frameEl.waitFor();
  await page.waitForTimeout(1500);
  const sandbox = await frameEl.getAttribute('sandbox');
  const frame = await (await frameEl.elementHandle()).contentFrame();
  const inside = await frame.evaluate(() => ({
    text: document.body.innerText.slice(0, 200),
    dangerous: document.body.querySelectorAll('script,form,input,button,iframe,object,embed,meta,svg,base').length,
    handlers: [...document.body.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
    js_links: [...document.querySelectorAll('a')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href') || '')).length,
  }));
  // Clicking what was a javascript: link must do nothing either.
  const link = frame.locator('#jslink');
  if (await link.count()) await link.click({ timeout: 2000 }).catch(() => {});
  await page.waitForTimeout(500);
  result.xss = {
    sandbox, ...inside,
    fired: await page.evaluate(() => window.__xss === undefined ? null : window.__xss),
    title: await page.title(),
  };
  // CSS inside the mail cannot cover the page: the toolbar still takes clicks.
  await page.locator('#reply').click({ trial: true, timeout: 3000 });
  await shot(page, 'xss-message');

  // HTML with a cid: image (authorised download URL) and a remote image (blocked).
  await page.locator('.row', { hasText: env('HTML_SUBJECT') }).locator('.subject').click();
  await page.locator('#remote-notice').waitFor();
  const f2 = await (await page.locator('iframe.mail-frame').elementHandle()).contentFrame();
  // The frame runs no script, so poll from outside (evaluate runs in an isolated world).
  for (let i = 0; i < 50; i++) {
    if (await f2.evaluate(() => { const im = document.querySelector('img[alt="logo"]'); return !!(im && im.complete); })) break;
    await page.waitForTimeout(100);
  }
  result.cid = await f2.evaluate(() => {
    const i = document.querySelector('img[alt="logo"]');
    return { src: i.getAttribute('src'), width: i.naturalWidth };
  });
  const remote = () => log.network.filter((r) => r.url.includes('?remote-pixel')).length;
  result.remote_requests_blocked = remote();
  await shot(page, 'html-message');
  await page.locator('#allow-remote').click();
  await page.waitForTimeout(1000);
  result.remote_requests_allowed = remote();

  // A 5 MB HTML body: the server sends its beginning, the page stays responsive.
  let t1 = Date.now();
  await page.locator('.row', { hasText: env('LONG_SUBJECT') }).locator('.subject').click();
  await page.locator('#reader-subject', { hasText: env('LONG_SUBJECT') }).waitFor();
  await page.locator('iframe.mail-frame').waitFor();
  const longOpen = Date.now() - t1;
  const truncated = await page.locator('.notice', { hasText: 'only its beginning' }).count();
  t1 = Date.now();
  await bigRow.locator('.subject').click();
  await page.locator('#reader-subject', { hasText: big }).waitFor();
  result.long = { open_ms: longOpen, truncated_notice: truncated === 1, next_ms: Date.now() - t1 };

  // Phone width: one pane at a time.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.locator('.toolbar .back').click();
  await bigRow.waitFor();
  await shot(page, 'phone-list');
  await bigRow.locator('.subject').click();
  await page.locator('#reader-subject').waitFor();
  result.phone_list_hidden = !(await page.locator('.list-pane').isVisible());
  await shot(page, 'phone-reader');
});

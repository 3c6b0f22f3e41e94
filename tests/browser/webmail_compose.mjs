// Compose: a reply with a new attachment (uploaded once, with progress) and a file the
// user already has (the digest pre-check finds it: no bytes sent), a forward that keeps
// the original attachment by blobId (no upload at all), and a send that fails (unknown
// recipient): the error is shown and the draft is kept in Drafts.
import path from 'node:path';
import { launch, signIn, shot, run, check, env } from './lib.mjs';

async function uploads(log, from) {
  const out = [];
  for (const r of log.requests.slice(from)) {
    if (!r.url.includes('/jmap/upload/')) continue;
    const resp = await r.req.response();
    const headers = await r.req.allHeaders();
    const sizes = await r.req.sizes();
    const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : sizes.requestBodySize;
    out.push({ body: length, status: resp ? resp.status() : 0 });
  }
  return out;
}

// The send finished: its compose form closed (a failed send keeps it) and the status says so.
// The status alone is not enough: the previous send's "Message sent." stays up for 4 s, and a
// test that opened the next compose on it saw that form closed by the slower send.
async function sent(page) {
  await page.locator('#compose-form').waitFor({ state: 'detached', timeout: 20000 });
  await page.locator('#status', { hasText: 'Message sent.' }).waitFor({ timeout: 20000 });
}

await run(async (result, keep) => {
  const ctx = await launch();
  keep(ctx);
  const { page, log } = ctx;
  await signIn(page, env('REFMAIL_USER'), env('REFMAIL_PASSWORD'));

  // Reply with a new file and with a file the server already holds for this user.
  await page.locator('.row', { hasText: env('REPLY_SUBJECT') }).locator('.subject').click();
  await page.locator('#reader-subject').waitFor();
  let mark = log.requests.length;
  await page.locator('#reply').click();
  result.reply_to = await page.locator('#compose-to').inputValue();
  await page.locator('#compose-body').fill('Here is the new file.\n');
  await page.locator('#compose-file').setInputFiles([env('NEW_FILE'), env('BIG_FILE')]);
  await page.locator('#compose-attachments li[data-state="ready"]').nth(1).waitFor({ timeout: 60000 });
  result.reply_attachments = await page.locator('#compose-attachments li').evaluateAll((lis) =>
    lis.map((li) => ({ name: li.dataset.name, reused: li.dataset.reused, state: li.dataset.state })));
  await shot(page, 'compose');
  await page.locator('#compose-send').click();
  await sent(page);
  result.reply_uploads = await uploads(log, mark);

  // Forward the message with the 5 MB attachment: kept by blobId, nothing uploaded.
  await page.locator('#mailboxes [data-role="inbox"]').click();
  await page.locator('.row', { hasText: env('BIG_SUBJECT') }).locator('.subject').click();
  await page.locator('#reader-subject').waitFor();
  mark = log.requests.length;
  const netMark = log.network.length;
  await page.locator('#forward').click();
  await page.locator('#compose-to').fill(env('FORWARD_TO'));
  await page.locator('#compose-attachments li[data-state="ready"]').first().waitFor();
  result.forward_attachments = await page.locator('#compose-attachments li').evaluateAll((lis) =>
    lis.map((li) => ({ name: li.dataset.name, state: li.dataset.state })));
  await shot(page, 'forward');
  await page.locator('#compose-send').click();
  await sent(page);
  result.forward_uploads = await uploads(log, mark);
  result.forward_downloads = log.network.slice(netMark).filter((r) => r.url.includes('/jmap/download/')).length;

  // A send that fails: the reason is shown, the draft stays in Drafts.
  await page.locator('#compose').click();
  await page.locator('#compose-to').fill('nobody-here@example.test');
  await page.locator('#compose-subject').fill('Kept as a draft');
  await page.locator('#compose-body').fill('This cannot be delivered.');
  await page.locator('#compose-send').click();
  await page.locator('#compose-error', { hasText: 'Not sent' }).waitFor();
  result.send_error = await page.locator('#compose-error').textContent();
  await shot(page, 'send-failed');
  await page.locator('#mailboxes [data-role="drafts"]').click();
  await page.locator('.row', { hasText: 'Kept as a draft' }).waitFor();
  await page.locator('#mailboxes [data-role="sent"]').click();
  await page.locator('#list-title', { hasText: 'Sent' }).waitFor();
  await page.locator('.row').nth(1).waitFor();
  result.sent_subjects = await page.locator('.row .subject').allTextContents();
  check(result.sent_subjects.length >= 2, 'two messages in Sent');

  // Rich text: bold text goes out as text/html with a text/plain alternative.
  await page.locator('#compose').click();
  await page.locator('#compose-to').fill('bob@example.test');
  await page.locator('#compose-subject').fill('Rich hello');
  await page.locator('#compose-rich-toggle').check();
  await page.locator('#compose-rich').click();
  await page.locator('.rich-bar [data-cmd="bold"]').click();
  await page.keyboard.type('Important');
  await page.locator('.rich-bar [data-cmd="bold"]').click();
  await page.keyboard.type(' news');
  await shot(page, 'compose-rich');
  await page.locator('#compose-send').click();
  await sent(page);

  // An upload the server refuses: the user is told, sending is held back, the text stays.
  await page.route('**/jmap/upload/**', (route) =>
    route.fulfill({ status: 507, contentType: 'application/json', body: '{"error":"disk full"}' }));
  log.allow.push(/status of 507/);
  await page.locator('#compose').click();
  await page.locator('#compose-to').fill('bob@example.test');
  await page.locator('#compose-subject').fill('Upload will fail');
  await page.locator('#compose-body').fill('Keep this text.');
  await page.locator('#compose-file').setInputFiles({ name: 'fresh.txt', mimeType: 'text/plain', buffer: Buffer.from('fresh ' + Date.now()) });
  await page.locator('#compose-attachments li[data-state="error"]').waitFor();
  result.upload_error = await page.locator('#compose-error').textContent();
  await page.locator('#compose-send').click();
  await page.locator('#compose-error', { hasText: 'Remove the attachment' }).waitFor();
  result.body_kept = await page.locator('#compose-body').inputValue();
  await page.unroute('**/jmap/upload/**');
});

// Actions: keyboard navigation, mark unread/read, flag, move, delete to Trash and
// then for good, search, and a live update (a message sent over SMTP while the page is
// open appears without a reload).
import net from 'node:net';
import { launch, signIn, run, check, env } from './lib.mjs';

// A minimal SMTP client (RFC 5321) for the live-update check: one message, loopback.
function smtpSend(port, from, to, subject) {
  return new Promise((resolve, reject) => {
    const steps = [`EHLO test\r\n`, `MAIL FROM:<${from}>\r\n`, `RCPT TO:<${to}>\r\n`, `DATA\r\n`,
      `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nlive\r\n.\r\n`, `QUIT\r\n`];
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(20000, () => { s.destroy(); reject(new Error('smtp timeout')); });
    s.on('data', (d) => {
      buf += d.toString();
      if (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf)) return;  // wait for the last reply line
      const code = Number(buf.match(/(\d{3}) [^\r\n]*\r\n$/)[1]);
      buf = '';
      if (code >= 400) { s.destroy(); reject(new Error('smtp ' + code)); return; }
      const next = steps.shift();
      if (next) s.write(next); else s.end();
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

const row = (page, subject) => page.locator('.row', { hasText: subject });

await run(async (result, keep) => {
  const ctx = await launch();
  keep(ctx);
  const { page } = ctx;
  page.__acceptConfirm = true;
  const subject = env('ACTIONS_SUBJECT');
  await signIn(page, env('REFMAIL_USER'), env('REFMAIL_PASSWORD'));

  // Keyboard: j moves through the list, Enter opens.
  await page.locator('.row').first().waitFor();
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('j');
  result.focused_row = await page.evaluate(() => document.activeElement.classList.contains('row'));
  await page.keyboard.press('Enter');
  await page.locator('#reader-subject').waitFor();

  await row(page, subject).locator('.subject').click();
  await page.locator('#reader-subject', { hasText: subject }).waitFor();
  await page.locator('#toggle-seen', { hasText: 'Mark unread' }).click();
  await page.locator('#toggle-seen', { hasText: 'Mark read' }).waitFor();
  await page.locator('.row.unread', { hasText: subject }).waitFor({ timeout: 10000 });
  result.unread_after_mark = true;
  await page.locator('#toggle-flag').click();
  await row(page, subject).locator('.flag').waitFor();
  result.flagged = true;

  // Move to Archive.
  const archiveId = await page.locator('#mailboxes [data-role="archive"]').getAttribute('data-mailbox');
  await page.locator('#move-to').selectOption(archiveId);
  await page.locator('#status', { hasText: 'Moved.' }).waitFor();
  result.in_inbox_after_move = await row(page, subject).count();
  await page.locator('#mailboxes [data-role="archive"]').click();
  await row(page, subject).waitFor();

  // Delete: to Trash, then for good.
  await row(page, subject).locator('.subject').click();
  await page.locator('#delete', { hasText: 'Delete' }).click();
  await page.locator('#mailboxes [data-role="trash"]').click();
  await row(page, subject).waitFor();
  await row(page, subject).locator('.subject').click();
  await page.locator('#delete', { hasText: 'Delete for good' }).click();
  await page.locator('#status', { hasText: 'Deleted for good.' }).waitFor();
  result.in_trash_after_delete = await row(page, subject).count();

  // Search (Email/query filter "text") in the inbox.
  await page.locator('#mailboxes [data-role="inbox"]').click();
  await page.locator('#search').fill(env('SEARCH_WORD'));
  await page.locator('#search').press('Enter');
  await page.locator('#list-title', { hasText: 'Search:' }).waitFor();
  result.search_subjects = await page.locator('.row .subject').allTextContents();

  // Live update from the event source.
  await page.locator('#mailboxes [data-role="inbox"]').click();
  await page.locator('#list-title', { hasText: 'Inbox' }).waitFor();
  await smtpSend(Number(env('SMTP_PORT')), 'live@example.org', env('REFMAIL_USER'), 'Live update arrives');
  await row(page, 'Live update arrives').waitFor({ timeout: 15000 });
  result.live_update = true;

  await page.locator('#sign-out').click();
  await page.locator('#login-error').waitFor();
  result.signed_out = await page.locator('#login-error').textContent();
  check(await page.locator('#login-user').isVisible(), 'the sign-in form is back');
});

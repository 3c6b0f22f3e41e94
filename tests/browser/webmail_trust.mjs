// Trust marks: a message whose top Authentication-Results field (refmail's own) says
// dmarc=fail opens with a warning naming the From domain; one that passed opens without.
import { launch, signIn, shot, run, check, env } from './lib.mjs';

await run(async (result, keep) => {
  const ctx = await launch();
  keep(ctx);
  const { page } = ctx;
  await signIn(page, env('REFMAIL_USER'), env('REFMAIL_PASSWORD'));
  const open = async (subject) => {
    await page.locator('.row', { hasText: subject }).locator('.subject').click();
    await page.locator('#reader-subject', { hasText: subject }).waitFor();
  };
  await open(env('FAIL_SUBJECT'));
  await page.locator('#dmarc-warning').waitFor();
  result.fail_warning = await page.locator('#dmarc-warning').textContent();
  await shot(page, 'dmarc-warning');
  await open(env('PASS_SUBJECT'));
  await page.locator('#plain-body').waitFor();
  result.pass_warnings = await page.locator('#dmarc-warning').count();
  check(result.pass_warnings === 0, 'a passing message shows the DMARC warning');
});

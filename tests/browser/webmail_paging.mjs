// Paging: an inbox larger than one page (50) shows "1–50 of N", Older/Newer move by a
// page, and the newest message comes first.
import { launch, signIn, run, check, env } from './lib.mjs';

await run(async (result, keep) => {
  const ctx = await launch();
  keep(ctx);
  const { page } = ctx;
  await signIn(page, env('REFMAIL_USER'), env('REFMAIL_PASSWORD'));
  const pager = page.locator('.pager span');
  await page.locator('.row').first().waitFor();
  result.first_page = { label: await pager.textContent(), rows: await page.locator('.row').count(),
    top: await page.locator('.row .subject').first().textContent() };
  await page.locator('.pager button', { hasText: 'Older' }).click();
  await page.locator('.pager span', { hasText: '51–' }).waitFor();
  result.second_page = { label: await pager.textContent(), rows: await page.locator('.row').count() };
  await page.locator('.pager button', { hasText: 'Newer' }).click();
  await page.locator('.pager span', { hasText: '1–50' }).waitFor();
  check(await page.locator('.pager button', { hasText: 'Newer' }).isDisabled(), 'no newer page at the top');
});

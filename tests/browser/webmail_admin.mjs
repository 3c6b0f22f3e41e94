// The admin page: its numbers (data-value attributes) for the driver to compare with
// `refmailctl stats --json`, the inline SVG chart, and a screenshot.
import { launch, signIn, shot, run, check, env } from './lib.mjs';

await run(async (result, keep) => {
  const ctx = await launch();
  keep(ctx);
  const { page } = ctx;
  await signIn(page, env('REFMAIL_USER'), env('REFMAIL_PASSWORD'));
  result.admin_link = await page.locator('#admin-link').count();
  await page.locator('#admin-link').click();
  await page.locator('#admin-title').waitFor();
  result.stats = await page.locator('[data-stat]').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.dataset.stat, Number(e.dataset.value)])));
  result.accounts = await page.locator('[data-account-bytes]').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.dataset.accountBytes, Number(e.dataset.value)])));
  result.domains = await page.locator('[data-domain-bytes]').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.dataset.domainBytes, Number(e.dataset.value)])));
  result.charts = await page.locator('svg.chart rect').count();
  check(result.charts >= 2, 'the chart has bars');
  result.filtering = await page.locator('[data-filter]').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.dataset.filter, Number(e.dataset.value)])));
  result.top_shared_rows = await page.locator('table:has(caption:text("Most shared")) tbody tr').count();
  await shot(page, 'admin');
});

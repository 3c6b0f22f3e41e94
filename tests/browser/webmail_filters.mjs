// The Filters view (tests/e2e/test_webmail_filters.py drives it in two phases).
// PHASE=setup: a script made and activated in the raw editor; the rule editor says it will
// replace it; a vacation reply and two rules (added, one moved up, one holding quotes and
// a backslash) saved; the rules read back after a reload; the active rules script broken
// in the raw editor: Check and Save both show the server's line:column error; the old
// script deleted (two clicks; the active one cannot be).
// PHASE=verify (after the driver sent mail): the folder the rule filed into, as the
// webmail lists it; and a hand-written "webmail-rules" script of another account is not
// parsed by the rule editor, which says so and offers to start a new rule list.
import { launch, signIn, shot, run, check, env } from './lib.mjs';

const tab = async (page, key) => {
  await page.locator(`#filters-tab-${key}`).click();
  await page.locator(`#filter-pane[data-loaded="${key}"]`).waitFor();
};

async function openFilters(page) {
  await page.locator('#filters-link').click();
  await page.locator('#filters-title').waitFor();
}

async function readRules(page) {
  return page.locator('#rules-list .rule').evaluateAll((lis) => lis.map((li) => ({
    field: li.querySelector('.rule-field').value, match: li.querySelector('.rule-match').value,
    value: li.querySelector('.rule-value').value, action: li.querySelector('.rule-action').value,
    target: li.querySelector('.rule-target').value, stop: li.querySelector('.rule-stop').checked,
  })));
}

async function setVacation(page, result) {
  // An enabled reply without text is refused in the page.
  await page.locator('#vacation-enabled').check();
  await page.locator('#vacation-body').fill('');
  await page.locator('#vacation-save').click();
  await page.locator('#vacation-note[data-outcome="error"]').waitFor();
  result.vacation_empty_error = await page.locator('#vacation-note').textContent();
  await page.locator('#vacation-subject').fill(env('VACATION_SUBJECT'));
  await page.locator('#vacation-body').fill(env('VACATION_TEXT'));
  await page.locator('#vacation-to').fill(env('VACATION_UNTIL'));  // local time (the driver sets TZ)
  await page.locator('#vacation-note').evaluate((el) => { delete el.dataset.outcome; });
  await page.locator('#vacation-save').click();
  await page.locator('#vacation-note[data-outcome]').waitFor();
  result.vacation_note = await page.locator('#vacation-note').textContent();
  result.vacation_outcome = await page.locator('#vacation-note').getAttribute('data-outcome');
  await shot(page, 'filters-vacation');
}

async function setup(page, result) {
  await openFilters(page);

  // 1. The raw editor: a script made and activated.
  await tab(page, 'scripts');
  await page.locator('#script-new').click();
  await page.locator('#script-name').fill('old-filter');
  await page.locator('#script-text').fill('require ["fileinto"];\nif header :contains "subject" "zzz-never" {\n  fileinto "INBOX";\n}\n');
  await page.locator('#script-check').click();
  await page.locator('#script-result[data-outcome]').waitFor();
  result.check_valid = await page.locator('#script-result').textContent();
  await page.locator('#script-save').click();
  await page.locator('[data-script-name="old-filter"]').waitFor();
  await page.locator('[data-script-name="old-filter"] .script-activate').click();
  await page.locator('[data-script-name="old-filter"][data-active="true"]').waitFor();

  // 2. The vacation reply (the driver fails the test when the server does not offer it).
  await tab(page, 'vacation');
  result.vacation_available = await page.locator('#vacation-unavailable').count() === 0;
  if (result.vacation_available) await setVacation(page, result);


  // 3. Rules: the editor names the script it will replace; a rule without a value is refused.
  await tab(page, 'rules');
  result.replaces = await page.locator('#rules-replaces').getAttribute('data-replaces');
  await page.locator('#rule-add').click();
  await page.locator('#rules-save').click();
  await page.locator('#rules-note[data-outcome="error"]').waitFor();
  result.incomplete_problem = await page.locator('.rule[data-rule-index="0"] .rule-problem').textContent();
  // Rule 1 (will be second): subject contains X -> folder Y.
  const r0 = page.locator('.rule[data-rule-index="0"]');
  await r0.locator('.rule-field').selectOption('subject');
  await r0.locator('.rule-match').selectOption('contains');
  await r0.locator('.rule-value').fill(env('RULE_SUBJECT'));
  await r0.locator('.rule-action').selectOption('fileinto');
  await r0.locator('.rule-target').fill(env('RULE_FOLDER'));
  // Rule 2: subject contains a value with quotes and a backslash -> \Flagged, no stop;
  // moved to the top so it runs first.
  await page.locator('#rule-add').click();
  const r1 = page.locator('.rule[data-rule-index="1"]');
  await r1.locator('.rule-value').fill(env('FLAG_SUBJECT'));
  await r1.locator('.rule-action').selectOption('flag');
  await r1.locator('.rule-target').fill('\\Flagged');
  await r1.locator('.rule-stop').uncheck();
  await r1.locator('.rule-up').click();
  result.rules_before_save = await readRules(page);
  await page.locator('#rules-note').evaluate((el) => { delete el.dataset.outcome; });
  await page.locator('#rules-save').click();
  await page.locator('#rules-note[data-outcome]').waitFor();
  result.rules_note = await page.locator('#rules-note').textContent();
  result.rules_outcome = await page.locator('#rules-note').getAttribute('data-outcome');
  result.replaces_after_save = await page.locator('#rules-replaces').count();
  await shot(page, 'filters-rules');

  // 4. After a reload, the editor reads its rules back from the stored script.
  await page.reload();
  await page.locator('#message-list').waitFor();
  await openFilters(page);
  if (result.vacation_available) {
    await tab(page, 'vacation');
    result.vacation_after_reload = {
      enabled: await page.locator('#vacation-enabled').isChecked(),
      subject: await page.locator('#vacation-subject').inputValue(),
      text: await page.locator('#vacation-body').inputValue(),
      until: await page.locator('#vacation-to').inputValue(),
      from: await page.locator('#vacation-from').inputValue(),
    };
  }
  await tab(page, 'rules');
  result.rules_after_reload = await readRules(page);

  // 5. The raw editor: the active rules script broken; Check and Save show line:column.
  await tab(page, 'scripts');
  result.scripts = await page.locator('#script-list .script').evaluateAll((lis) =>
    lis.map((li) => [li.dataset.scriptName, li.dataset.active === 'true']));
  await page.locator('[data-script-name="webmail-rules"] .script-open').click();
  const area = page.locator('#script-text');
  await page.locator('#script-editor[data-script="webmail-rules"]').waitFor();
  const text = await area.inputValue();
  check(text.startsWith('# refmail webmail rules v1'), 'the editor shows the rules script');
  result.broken_line = text.split('\n').length;
  await area.fill(text + 'fileint "broken";\n');
  await page.locator('#script-check').click();
  await page.locator('#script-result[data-outcome="error"]').waitFor();
  result.check_error = await page.locator('#script-result').textContent();
  result.check_line = await page.locator('#script-result').getAttribute('data-line');
  await page.locator('#script-result').evaluate((el) => { delete el.dataset.outcome; });
  await page.locator('#script-save').click();
  await page.locator('#script-result[data-outcome="error"]').waitFor();
  result.save_error = await page.locator('#script-result').textContent();
  result.save_line = await page.locator('#script-result').getAttribute('data-line');
  await shot(page, 'filters-script-error');

  // 6. Delete: the active script's button is disabled; another takes two clicks.
  result.active_delete_disabled = await page.locator('[data-script-name="webmail-rules"] .script-delete').isDisabled();
  await page.locator('#script-close').click();
  const del = page.locator('[data-script-name="old-filter"] .script-delete');
  await del.click();
  result.delete_asks = await del.textContent();
  result.after_one_click = await page.locator('[data-script-name="old-filter"]').count();
  await del.click();
  await page.locator('#scripts-note[data-outcome]').waitFor();
  result.delete_note = await page.locator('#scripts-note').textContent();
  result.after_delete = await page.locator('#script-list .script').evaluateAll((lis) => lis.map((li) => li.dataset.scriptName));
}

async function verify(page, result) {
  const folder = env('RULE_FOLDER');
  const box = page.locator('.box', { has: page.locator('.box-name', { hasText: folder }) });
  await box.click();
  await page.locator('#list-title', { hasText: folder }).waitFor();
  await page.locator('#message-list .row').first().waitFor();
  result.folder_subjects = await page.locator('#message-list .row .subject').evaluateAll((els) =>
    els.map((e) => ({ text: e.textContent.replace(/^⚑ /, ''), flagged: !!e.querySelector('.flag') })));
  await shot(page, 'filters-folder');
  // Another account, whose "webmail-rules" script was written by hand.
  await page.locator('#sign-out').click();
  await page.locator('#login-user').waitFor();  // signed out before the next sign-in loads the page
  await signIn(page, env('FOREIGN_USER'), env('FOREIGN_PASSWORD'));
  await openFilters(page);
  await tab(page, 'rules');
  result.foreign_reason = await page.locator('#rules-foreign').getAttribute('data-reason');
  result.foreign_text = await page.locator('#rules-foreign').textContent();
  result.foreign_rules_shown = await page.locator('#rules-list').count();
  await shot(page, 'filters-foreign');
  // "Start a new rule list" gives an empty editor (nothing is saved here).
  await page.locator('#rules-start-over').click();
  await page.locator('#rules-list').waitFor();
  result.start_over = { rules: await page.locator('#rules-list .rule').count(),
    save: await page.locator('#rules-save').count(), foreign: await page.locator('#rules-foreign').count() };
}

await run(async (result, keep) => {
  const ctx = await launch();
  keep(ctx);
  const { page } = ctx;
  await signIn(page, env('REFMAIL_USER'), env('REFMAIL_PASSWORD'));
  if (env('PHASE') === 'setup') await setup(page, result);
  else await verify(page, result);
});

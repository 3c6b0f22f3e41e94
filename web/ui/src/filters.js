// The Filters view: the vacation reply (JMAP VacationResponse, RFC 8621 8), the simple
// rule editor (rules <-> a Sieve script, sieve_rules.js) and the raw script editor, both
// through JMAP for Sieve (RFC 9661: SieveScript/get, /set, /validate; a script's content
// is a blob, uploaded first and downloaded through the download URL).
// Must never: parse a script the rule editor did not write (it says so instead), or show
// a script or a server message other than as text.
import { h, clear } from './dom.js';
import { JmapError } from './jmap.js';
import {
  RULES_SCRIPT_NAME, FIELDS, MATCHES, ACTIONS, emptyRule, checkRule, generateScript, readRules,
} from './sieve_rules.js';

const SIEVE = 'urn:ietf:params:jmap:sieve';
const VACATION = 'urn:ietf:params:jmap:vacationresponse';
const FLAGS = ['\\Flagged', '\\Seen', '\\Answered', '$work', '$personal'];

let ids = 0;
const uid = (p) => `${p}-${++ids}`;

// A labelled control: <label for=id>text</label> + control, in one grid cell.
function field(text, control, cls = 'ff') {
  if (!control.id) control.id = uid('f');
  return h('div', { class: cls }, h('label', { for: control.id }, text), control);
}

function select(options, value, attrs = {}) {
  return h('select', attrs, Object.entries(options).map(([v, t]) => h('option', { value: v, selected: v === value }, t)));
}

// A message line inside the view: role=alert for errors, data-outcome for the tests.
function note(el, text, outcome) {
  el.textContent = text;
  el.dataset.outcome = outcome;
  el.className = 'filter-note ' + outcome;
  el.setAttribute('role', outcome === 'error' ? 'alert' : 'status');
}

function clearNote(el) {
  el.textContent = '';
  el.className = 'filter-note';
  for (const k of ['outcome', 'line', 'column']) delete el.dataset[k];
}

// ------------------------------------------------------------------ Sieve over JMAP

async function listScripts(jmap) {
  const r = await jmap.request([['SieveScript/get', { accountId: jmap.accountId, ids: null }, 'g']], [SIEVE]);
  return r.g.list.sort((a, b) => a.name.localeCompare(b.name));
}

async function scriptText(jmap, script) {
  const r = await fetch(jmap.downloadUrl(script.blobId, script.name + '.sieve', 'application/sieve'),
    { credentials: 'same-origin' });
  if (!r.ok) throw new JmapError(`Cannot read the script “${script.name}” (${r.status}).`);
  return r.text();
}

// RFC 5228 2.2: lines end in CRLF.
async function uploadScript(jmap, text) {
  const crlf = text.replace(/\r?\n/g, '\r\n');
  const up = await jmap.upload(new Blob([crlf], { type: 'application/sieve' }), 'application/sieve');
  return up.blobId;
}

async function sieveSet(jmap, args) {
  const r = await jmap.request([['SieveScript/set', { accountId: jmap.accountId, ...args }, 's']], [SIEVE]);
  return r.s;
}

function setErrorText(e) {
  if (!e) return '';
  return e.type === 'invalidSieve' ? `the script has an error at ${e.description}` : `${e.type}${e.description ? ': ' + e.description : ''}`;
}

// ------------------------------------------------------------------ vacation

// UTCDate (RFC 8620 1.4) <-> the value of an <input type=datetime-local> (local time).
function toLocalInput(utc) {
  if (!utc) return '';
  const d = new Date(utc);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
function fromLocalInput(v) {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function showVacation(jmap, pane) {
  if (!jmap.has(VACATION)) {
    clear(pane, h('p', { id: 'vacation-unavailable' }, 'This server does not offer vacation replies.'));
    return;
  }
  const accountId = jmap.session.primaryAccounts[VACATION] || jmap.accountId;
  const r = await jmap.request([['VacationResponse/get', { accountId, ids: ['singleton'] }, 'g']], [VACATION]);
  const v = r.g.list[0] || { isEnabled: false, fromDate: null, toDate: null, subject: null, textBody: null };
  const enabled = h('input', { type: 'checkbox', id: 'vacation-enabled', checked: !!v.isEnabled });
  const from = h('input', { type: 'datetime-local', id: 'vacation-from', value: toLocalInput(v.fromDate) });
  const to = h('input', { type: 'datetime-local', id: 'vacation-to', value: toLocalInput(v.toDate) });
  const subject = h('input', { id: 'vacation-subject', value: v.subject || '', placeholder: 'Auto: (the original subject)' });
  const body = h('textarea', { id: 'vacation-body', rows: '6' });
  body.value = v.textBody || '';
  const msg = h('p', { id: 'vacation-note', class: 'filter-note' });
  const form = h('form', { class: 'filter-form', id: 'vacation-form', dataset: { enabled: String(!!v.isEnabled) } },
    h('div', { class: 'ff check' }, enabled, h('label', { for: 'vacation-enabled' }, 'Send an automatic reply')),
    field('From (optional)', from), field('Until (optional)', to),
    field('Subject', subject), field('Message', body),
    h('p', { class: 'hint' }, 'Each sender gets at most one reply every 7 days; mailing lists and automatic mail get none.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'vacation-save' }, 'Save')), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearNote(msg);
    const fromDate = fromLocalInput(from.value), toDate = fromLocalInput(to.value);
    if (enabled.checked && !body.value.trim()) return note(msg, 'Write the text of the reply first.', 'error');
    if (fromDate && toDate && fromDate >= toDate) return note(msg, 'The end is before the start.', 'error');
    try {
      const s = await jmap.request([['VacationResponse/set', { accountId, update: { singleton: {
        isEnabled: enabled.checked, fromDate, toDate, subject: subject.value.trim() || null,
        textBody: body.value || null, htmlBody: null } } }, 's']], [VACATION]);
      const err = s.s.notUpdated && s.s.notUpdated.singleton;
      if (err) return note(msg, `Not saved: ${setErrorText(err)}.`, 'error');
      form.dataset.enabled = String(enabled.checked);
      note(msg, enabled.checked ? 'Saved: the vacation reply is on.' : 'Saved: the vacation reply is off.', 'ok');
    } catch (x) { note(msg, `Not saved: ${x.message}`, 'error'); }
  });
  clear(pane, h('h3', {}, 'Vacation reply'), form);
}

// ------------------------------------------------------------------ rule editor

async function showRules(jmap, pane, mailboxes) {
  if (!jmap.has(SIEVE)) { clear(pane, h('p', {}, 'This server does not offer mail filters (JMAP Sieve).')); return; }
  const scripts = await listScripts(jmap);
  const mine = scripts.find((s) => s.name === RULES_SCRIPT_NAME);
  const active = scripts.find((s) => s.isActive);
  let rules = [];
  let foreign = '';
  if (mine) {
    const got = readRules(await scriptText(jmap, mine));
    if (got.rules) rules = got.rules; else foreign = got.foreign;
  }
  const msg = h('p', { id: 'rules-note', class: 'filter-note' });
  const list = h('ol', { class: 'rules', id: 'rules-list', 'aria-label': 'Rules' });
  const folders = h('datalist', { id: 'rules-folders' }, mailboxes.map((m) => h('option', { value: m.name })));
  const flags = h('datalist', { id: 'rules-flags' }, FLAGS.map((f) => h('option', { value: f })));
  const save = h('button', { class: 'primary', id: 'rules-save' }, 'Save and activate');
  const add = h('button', { id: 'rule-add', onclick: () => { rules.push(emptyRule()); draw(rules.length - 1, 'value'); } }, 'Add a rule');
  const replaces = active && active.name !== RULES_SCRIPT_NAME ? active : null;
  const warn = replaces ? h('p', { class: 'notice', id: 'rules-replaces', dataset: { replaces: replaces.name } },
    `Your active filter script now is “${replaces.name}”. Saving these rules makes them the active script instead; ` +
    `“${replaces.name}” is kept and can be activated again under Scripts.`) : null;

  // One rule's row. Inputs write into the model as they change; only add, remove and
  // move redraw the list (then focus goes back to the control the user was on).
  function row(r, i) {
    const fieldSel = select(FIELDS, r.field, { 'aria-label': `Rule ${i + 1}: header` , class: 'rule-field' });
    const matchSel = select(MATCHES, r.match, { 'aria-label': `Rule ${i + 1}: comparison`, class: 'rule-match' });
    const value = h('input', { value: r.value, 'aria-label': `Rule ${i + 1}: text to look for`, placeholder: 'text to look for', class: 'rule-value' });
    const actionSel = select(ACTIONS, r.action, { 'aria-label': `Rule ${i + 1}: action`, class: 'rule-action' });
    const target = h('input', { value: r.target || '', class: 'rule-target' });
    const copy = h('input', { type: 'checkbox', checked: !!r.copy, class: 'rule-copy', id: uid('copy') });
    const stop = h('input', { type: 'checkbox', checked: !!r.stop, class: 'rule-stop', id: uid('stop') });
    const copyWrap = h('span', { class: 'check' }, copy, h('label', { for: copy.id }, 'keep a copy'));
    const problem = h('p', { class: 'rule-problem', role: 'alert' });
    const li = h('li', { class: 'rule', dataset: { ruleIndex: String(i) } });
    const shape = () => {
      const a = actionSel.value;
      target.hidden = a === 'discard';
      target.setAttribute('list', a === 'fileinto' ? 'rules-folders' : a === 'flag' ? 'rules-flags' : '');
      target.setAttribute('aria-label', `Rule ${i + 1}: ` + (a === 'fileinto' ? 'folder' : a === 'flag' ? 'flag' : 'forward to address'));
      target.placeholder = a === 'fileinto' ? 'Folder (made if missing)' : a === 'flag' ? '\\Flagged' : 'name@example.org';
      target.type = a === 'redirect' ? 'email' : 'text';
      copyWrap.hidden = a !== 'redirect';
      li.dataset.action = a;
    };
    const update = () => {
      Object.assign(r, { field: fieldSel.value, match: matchSel.value, value: value.value, action: actionSel.value,
        target: target.value, copy: copy.checked, stop: stop.checked });
      shape();
      problem.textContent = '';
    };
    for (const c of [fieldSel, matchSel, value, actionSel, target, copy, stop]) {
      c.addEventListener('input', update);
      c.addEventListener('change', update);
    }
    shape();
    const move = (d) => { const j = i + d; [rules[i], rules[j]] = [rules[j], rules[i]]; draw(j, d < 0 ? 'up' : 'down'); };
    li.append(
      h('div', { class: 'rule-when' }, h('span', {}, `${i + 1}. If`), fieldSel, matchSel, value),
      h('div', { class: 'rule-then' }, h('span', {}, 'then'), actionSel, target, copyWrap,
        h('span', { class: 'check' }, stop, h('label', { for: stop.id }, 'stop here'))),
      h('div', { class: 'rule-tools' },
        h('button', { class: 'rule-up', disabled: i === 0, 'aria-label': `Move rule ${i + 1} up`, onclick: () => move(-1) }, '↑'),
        h('button', { class: 'rule-down', disabled: i === rules.length - 1, 'aria-label': `Move rule ${i + 1} down`, onclick: () => move(1) }, '↓'),
        h('button', { class: 'rule-remove danger', 'aria-label': `Remove rule ${i + 1}`,
          onclick: () => { rules.splice(i, 1); draw(Math.min(i, rules.length - 1), 'remove'); } }, 'Remove')),
      problem);
    li.problem = problem;
    return li;
  }

  function draw(focusIndex, what) {
    clear(list, rules.length ? rules.map(row) : h('li', { class: 'empty' }, 'No rules: all mail stays in the Inbox.'));
    const li = focusIndex >= 0 ? list.children[focusIndex] : null;
    if (li && what) {
      const el = li.querySelector(what === 'value' ? '.rule-value' : what === 'up' ? '.rule-up' : what === 'down' ? '.rule-down' : '.rule-remove');
      (el && !el.disabled ? el : li.querySelector('.rule-value')).focus();
    }
  }

  save.addEventListener('click', async () => {
    clearNote(msg);
    let bad = false;
    rules.forEach((r, i) => {
      const why = checkRule(r);
      if (why) { list.children[i].problem.textContent = why; bad = true; }
    });
    if (bad) return note(msg, 'Not saved: a rule is incomplete (see above).', 'error');
    save.disabled = true;
    try {
      const blobId = await uploadScript(jmap, generateScript(rules));
      // RFC 9661 2.3: the content replaced (or created) and the script activated in one call.
      const s = mine
        ? await sieveSet(jmap, { update: { [mine.id]: { blobId } }, onSuccessActivateScript: mine.id })
        : await sieveSet(jmap, { create: { r: { name: RULES_SCRIPT_NAME, blobId } }, onSuccessActivateScript: '#r' });
      const err = (s.notCreated && s.notCreated.r) || (s.notUpdated && mine && s.notUpdated[mine.id]);
      if (err) return note(msg, `Not saved: ${setErrorText(err)}.`, 'error');
      await showRules(jmap, pane, mailboxes);
      note(pane.querySelector('#rules-note'), `Saved: ${rules.length} rule${rules.length === 1 ? '' : 's'}, active.`, 'ok');
    } catch (x) {
      note(msg, `Not saved: ${x.message}`, 'error');
    } finally { save.disabled = false; }
  });

  const head = h('h3', {}, 'Rules');
  const intro = h('p', { class: 'hint' }, 'Rules run from the top for each new message; “stop here” skips the rules below a match.');
  if (foreign) {
    // Decision: a script the editor did not write is never parsed or rewritten silently.
    clear(pane, head, h('p', { class: 'notice', id: 'rules-foreign', dataset: { reason: foreign } },
      `The script “${RULES_SCRIPT_NAME}” cannot be edited here: ${foreign}. Edit it under Scripts, or start a new rule list (saving it replaces that script).`),
    h('button', { id: 'rules-start-over', onclick: () => { foreign = ''; rules = []; clear(pane, head, intro, warn, list, folders, flags,
      h('div', { class: 'actions' }, add, save), msg); draw(); } }, 'Start a new rule list'));
    return;
  }
  clear(pane, head, intro, warn, list, folders, flags, h('div', { class: 'actions' }, add, save), msg);
  draw();
}

// ------------------------------------------------------------------ raw scripts

async function showScripts(jmap, pane) {
  if (!jmap.has(SIEVE)) { clear(pane, h('p', {}, 'This server does not offer mail filters (JMAP Sieve).')); return; }
  const scripts = await listScripts(jmap);
  const msg = h('p', { id: 'scripts-note', class: 'filter-note' });
  const editorBox = h('div', { class: 'script-editor', id: 'script-editor', hidden: true });
  const reload = async (text, outcome, openName) => {
    await showScripts(jmap, pane);
    if (text) note(pane.querySelector('#scripts-note'), text, outcome);
    if (openName) {
      const b = pane.querySelector(`[data-script-name="${CSS.escape(openName)}"] .script-open`);
      if (b) b.click();
    }
  };
  const act = async (args, done) => {
    try {
      const s = await sieveSet(jmap, args);
      const errs = [s.notCreated, s.notUpdated, s.notDestroyed].filter(Boolean).flatMap((o) => Object.values(o));
      if (errs.length) return note(msg, `Not done: ${setErrorText(errs[0])}.`, 'error');
      await reload(done, 'ok');
    } catch (x) { note(msg, `Not done: ${x.message}`, 'error'); }
  };

  function openEditor(script, text) {
    const name = h('input', { id: 'script-name', value: script ? script.name : '', required: true, maxlength: '128' });
    const area = h('textarea', { id: 'script-text', rows: '16', spellcheck: 'false', class: 'code' });
    area.value = text || '';
    const result = h('p', { id: 'script-result', class: 'filter-note' });
    // "3:14: ..." -> put the caret there.
    const showError = (prefix, e) => {
      note(result, `${prefix}${setErrorText(e)}`, 'error');
      const m = e.type === 'invalidSieve' && /^(\d+):(\d+)/.exec(e.description || '');
      if (m) {
        const lines = area.value.split('\n');
        const line = Math.min(Math.max(Number(m[1]), 1), lines.length);
        let at = 0;
        for (let i = 0; i < line - 1; i++) at += lines[i].length + 1;
        at += Math.min(Math.max(Number(m[2]) - 1, 0), lines[line - 1].length);
        result.dataset.line = m[1];
        result.dataset.column = m[2];
        area.focus();
        area.setSelectionRange(at, at);
      }
    };
    const check = h('button', { id: 'script-check', onclick: async () => {
      clearNote(result);
      try {
        const blobId = await uploadScript(jmap, area.value);
        const r = await jmap.request([['SieveScript/validate', { accountId: jmap.accountId, blobId }, 'v']], [SIEVE]);
        if (r.v.error) showError('', r.v.error);
        else note(result, 'No errors found.', 'ok');
      } catch (x) { note(result, x.message, 'error'); }
    } }, 'Check');
    const saveBtn = h('button', { class: 'primary', id: 'script-save', onclick: async () => {
      clearNote(result);
      const n = name.value.trim();
      if (!n) return note(result, 'Give the script a name.', 'error');
      try {
        const blobId = await uploadScript(jmap, area.value);
        const s = script
          ? await sieveSet(jmap, { update: { [script.id]: n === script.name ? { blobId } : { name: n, blobId } } })
          : await sieveSet(jmap, { create: { n: { name: n, blobId } } });
        const err = (s.notCreated && s.notCreated.n) || (script && s.notUpdated && s.notUpdated[script.id]);
        if (err) return showError(script ? 'Not saved, the stored script is unchanged: ' : 'Not created: ', err);
        await reload(`Saved “${n}”.`, 'ok', n);
      } catch (x) { note(result, `Not saved: ${x.message}`, 'error'); }
    } }, script ? 'Save' : 'Create');
    clear(editorBox, h('h4', {}, script ? `Script “${script.name}”` : 'New script'),
      field('Name', name), field('Script (Sieve, RFC 5228)', area),
      h('div', { class: 'actions' }, check, saveBtn,
        h('button', { id: 'script-close', onclick: () => { editorBox.hidden = true; clear(editorBox); } }, 'Close')), result);
    editorBox.dataset.script = script ? script.name : '';
    editorBox.hidden = false;
    area.focus();
  }

  const rows = scripts.map((s) => {
    const del = h('button', { class: 'script-delete danger', disabled: s.isActive,
      title: s.isActive ? 'Deactivate it first' : null, 'aria-label': `Delete ${s.name}` }, 'Delete');
    del.addEventListener('click', () => {
      // Two steps instead of a dialog: the first click asks, the second deletes.
      if (del.dataset.armed) return act({ destroy: [s.id] }, `Deleted “${s.name}”.`);
      del.dataset.armed = '1';
      del.textContent = 'Really delete?';
    });
    return h('li', { class: 'script', dataset: { scriptName: s.name, active: String(!!s.isActive) } },
      h('span', { class: 'script-name' }, s.name), s.isActive ? h('span', { class: 'badge' }, 'active') : null,
      h('button', { class: 'script-open', 'aria-label': `Open ${s.name}`, onclick: async () => {
        try { openEditor(s, await scriptText(jmap, s)); } catch (x) { note(msg, x.message, 'error'); }
      } }, 'Open'),
      s.isActive
        ? h('button', { class: 'script-deactivate', 'aria-label': `Deactivate ${s.name}`,
          onclick: () => act({ onSuccessDeactivateScript: true }, `“${s.name}” is no longer active: mail is not filtered.`) }, 'Deactivate')
        : h('button', { class: 'script-activate', 'aria-label': `Activate ${s.name}`,
          onclick: () => act({ onSuccessActivateScript: s.id }, `“${s.name}” is now the active script.`) }, 'Activate'),
      del);
  });
  clear(pane, h('h3', {}, 'Scripts'),
    h('p', { class: 'hint' }, 'Sieve scripts of this account; one at a time is active and runs on new mail.'),
    h('ul', { class: 'scripts', id: 'script-list', 'aria-label': 'Scripts' },
      rows.length ? rows : h('li', { class: 'empty' }, 'No scripts.')),
    h('div', { class: 'actions' }, h('button', { id: 'script-new', onclick: () => openEditor(null, 'require ["fileinto"];\n\n') }, 'New script')),
    msg, editorBox);
}

// ------------------------------------------------------------------ the view

const TABS = [
  ['vacation', 'Vacation', showVacation],
  ['rules', 'Rules', showRules],
  ['scripts', 'Scripts', showScripts],
];

// Draws the view into `container`; `tab` is the one shown first. Errors thrown while a
// tab loads reach `guard` (the status line, or the sign-in page when the session ended).
export function showFilters({ jmap, container, mailboxes, guard, tab = 'vacation' }) {
  const pane = h('div', { class: 'filter-pane', id: 'filter-pane', role: 'tabpanel' });
  let loads = 0;
  const buttons = TABS.map(([key, label]) => h('button', {
    role: 'tab', id: `filters-tab-${key}`, dataset: { tab: key }, 'aria-controls': 'filter-pane',
    onclick: () => open(key),
  }, label));
  function open(key) {
    for (const b of buttons) {
      b.setAttribute('aria-selected', String(b.dataset.tab === key));
      b.tabIndex = b.dataset.tab === key ? 0 : -1;  // one tab stop; arrows move within
    }
    pane.setAttribute('aria-labelledby', `filters-tab-${key}`);
    pane.dataset.tab = key;
    delete pane.dataset.loaded;
    clear(pane, h('p', {}, 'Loading…'));
    const show = TABS.find((t) => t[0] === key)[2];
    // Each tab draws into its own box, put in the pane only if it is still the tab asked
    // for last: a slower load of a tab the user already left must not replace the new one.
    const generation = ++loads;
    const box = h('div', { class: 'filter-tab', dataset: { tab: key } });
    guard(async () => {
      try {
        await show(jmap, box, mailboxes);
      } catch (e) {
        if (generation !== loads) return;
        clear(pane, h('p', { class: 'filter-note error', role: 'alert' }, `Could not load this page: ${e.message || e}`));
        throw e;  // guard shows it too, or goes back to the sign-in page
      }
      if (generation !== loads) return;
      clear(pane, box);
      pane.dataset.loaded = key;
    });
  }
  // WAI-ARIA tabs: the arrow keys move between the tabs (Home/End to the ends).
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Filter settings' }, buttons);
  tablist.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const j = e.key === 'ArrowRight' ? (i + 1) % buttons.length : e.key === 'ArrowLeft' ? (i + buttons.length - 1) % buttons.length
      : e.key === 'Home' ? 0 : e.key === 'End' ? buttons.length - 1 : -1;
    if (j < 0) return;
    e.preventDefault();
    buttons[j].focus();
    open(buttons[j].dataset.tab);
  });
  clear(container, h('h2', { id: 'filters-title' }, 'Filters'), tablist, pane);
  open(tab);
}

// refmail webmail: sign-in, mailboxes, the message list, the reader, actions, search,
// compose (compose.js), the admin savings page (admin.js) and the Filters view (vacation
// reply, rules, Sieve scripts: filters.js). Plain DOM, no framework.
// Mail content reaches the page only as text nodes, or sanitised inside a sandboxed
// iframe (reader.js). Attachments are fetched only when a download link is clicked.
import './style.css';
import { Jmap, JmapError } from './jmap.js';
import { h, clear, formatSize, formatDate, addressText, linkify } from './dom.js';
import { sanitizeMail, mailFrame } from './reader.js';
import { openCompose } from './compose.js';
import { showAdmin } from './admin.js';
import { showFilters } from './filters.js';

const PAGE = 50;
const LIST_PROPS = ['id', 'blobId', 'mailboxIds', 'keywords', 'from', 'to', 'subject', 'preview', 'receivedAt',
  'hasAttachment', 'attachments', 'size'];
const READ_PROPS = [...LIST_PROPS, 'cc', 'bcc', 'replyTo', 'sentAt', 'messageId', 'references', 'textBody',
  'htmlBody', 'bodyValues', 'header:Authentication-Results:all'];

const jmap = new Jmap();
const app = document.getElementById('app');
const state = {
  mailboxes: [], current: null, position: 0, total: 0, emails: [], selected: null, search: '',
  open: null, allowRemote: new Set(), events: null, lastState: '', view: 'mail',
};
let ui = {};

function status(msg, isError = false) {
  if (!ui.status) return;
  ui.status.textContent = msg || '';
  ui.status.className = isError ? 'status error' : 'status';
  if (msg && !isError) setTimeout(() => { if (ui.status.textContent === msg) ui.status.textContent = ''; }, 4000);
}

async function guard(fn) {
  try { return await fn(); } catch (e) {
    if (e instanceof JmapError && e.type === 'auth') return showLogin(e.message);
    status(e.message || String(e), true);
    return undefined;
  }
}

// ------------------------------------------------------------------ sign-in

function showLogin(message = '') {
  if (state.events) { state.events.close(); state.events = null; }
  const err = h('p', { class: 'login-error', role: 'alert', id: 'login-error' }, message);
  const user = h('input', { id: 'login-user', name: 'username', type: 'email', autocomplete: 'username', required: true,
    value: jmap.username || '' });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'refmail'),
    h('label', { for: 'login-user' }, 'Address'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, 'Sign in'), err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      if (await jmap.login(user.value.trim(), pass.value)) return start();
      err.textContent = 'Sign-in failed.';
    } catch (x) { err.textContent = x.message; }
  });
  clear(app, h('main', { class: 'login-page' }, form));
  (user.value ? pass : user).focus();
}

// ------------------------------------------------------------------ layout

function shell() {
  const search = h('input', { type: 'search', id: 'search', placeholder: 'Search mail  ( / )', 'aria-label': 'Search mail' });
  const searchForm = h('form', { class: 'search', role: 'search' }, search);
  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    state.search = search.value.trim();
    state.position = 0;
    state.view = 'mail';
    guard(loadList);
  });
  ui = {
    search,
    status: h('div', { class: 'status', role: 'status', id: 'status' }),
    boxes: h('ul', { class: 'boxes', id: 'mailboxes' }),
    list: h('ol', { class: 'list', id: 'message-list', 'aria-label': 'Messages' }),
    pager: h('div', { class: 'pager' }),
    reader: h('section', { class: 'reader', id: 'reader', 'aria-label': 'Message', tabindex: '-1' }),
    listPane: null,
  };
  ui.listPane = h('section', { class: 'list-pane', 'aria-label': 'Message list' },
    h('h2', { class: 'list-title', id: 'list-title' }), ui.list, ui.pager);
  const header = h('header', { class: 'top' },
    h('button', { class: 'menu', 'aria-label': 'Mailboxes', onclick: () => document.body.classList.toggle('show-boxes') }, '☰'),
    h('span', { class: 'brand' }, 'refmail'), searchForm,
    h('span', { class: 'who', id: 'signed-in', title: 'Signed in as' }, jmap.username),
    h('button', { class: 'primary', id: 'compose', onclick: () => compose('new') }, 'Compose'),
    h('button', { id: 'filters-link', onclick: () => openFilters() }, 'Filters'),
    // Offered to admin accounts only (the session's urn:refmail:params:admin capability).
    jmap.session.capabilities['urn:refmail:params:admin'] ? h('button', { id: 'admin-link', onclick: () => openAdmin() }, 'Admin') : null,
    h('button', { id: 'sign-out', onclick: signOut }, 'Sign out'));
  const nav = h('nav', { class: 'side', 'aria-label': 'Mailboxes' }, ui.boxes);
  clear(app, header, h('div', { class: 'body' }, nav, ui.listPane, ui.reader), ui.status);
  document.body.dataset.view = 'list';
}

async function signOut() {
  if (state.events) { state.events.close(); state.events = null; }
  await jmap.logout();
  showLogin('You are signed out.');
}

// ------------------------------------------------------------------ mailboxes

const ORDER = { inbox: 0, drafts: 1, sent: 2, archive: 3, junk: 4, trash: 5 };

async function loadMailboxes() {
  const r = await jmap.request([['Mailbox/get', { accountId: jmap.accountId, ids: null }, 'm']]);
  state.mailboxes = r.m.list.sort((a, b) => (ORDER[a.role] ?? 9) - (ORDER[b.role] ?? 9) || a.sortOrder - b.sortOrder);
  if (!state.current || !state.mailboxes.find((m) => m.id === state.current)) {
    state.current = (state.mailboxes.find((m) => m.role === 'inbox') || state.mailboxes[0]).id;
  }
  renderMailboxes();
}

function byRole(role) { return state.mailboxes.find((m) => m.role === role); }

function renderMailboxes() {
  clear(ui.boxes, state.mailboxes.map((m) => h('li', {},
    h('button', {
      class: 'box' + (m.id === state.current && state.view === 'mail' ? ' current' : ''),
      'aria-current': m.id === state.current && state.view === 'mail' ? 'page' : null,
      dataset: { mailbox: m.id, role: m.role || '' },
      onclick: () => { state.current = m.id; state.position = 0; state.search = ''; ui.search.value = '';
        state.view = 'mail'; document.body.classList.remove('show-boxes'); guard(loadList); },
    }, h('span', { class: 'box-name' }, m.name),
    m.unreadEmails ? h('span', { class: 'unread-count', 'aria-label': `${m.unreadEmails} unread` }, String(m.unreadEmails)) : null))));
}

// ------------------------------------------------------------------ message list

// Each load is numbered: a slower answer to an older load (the inbox clicked just before a
// search, an event-source refresh) must not replace the list the user asked for last.
let listGeneration = 0;

async function loadList() {
  const generation = ++listGeneration;
  const filter = { inMailbox: state.current };
  if (state.search) filter.text = state.search;
  const r = await jmap.request([
    ['Email/query', { accountId: jmap.accountId, filter, sort: [{ property: 'receivedAt', isAscending: false }],
      position: state.position, limit: PAGE, calculateTotal: true }, 'q'],
    ['Email/get', { accountId: jmap.accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
      properties: LIST_PROPS }, 'g'],
  ]);
  if (generation !== listGeneration) return;
  state.total = r.q.total;
  const order = new Map(r.q.ids.map((id, i) => [id, i]));
  state.emails = r.g.list.sort((a, b) => order.get(a.id) - order.get(b.id));
  renderMailboxes();
  renderList();
}

function attachmentLink(att, cls = 'att-link') {
  return h('a', { class: cls, href: jmap.downloadUrl(att.blobId, att.name || 'attachment', att.type),
    download: att.name || 'attachment', title: `${att.name || 'attachment'} (${formatSize(att.size)})`,
    dataset: { blobId: att.blobId }, onclick: (e) => e.stopPropagation() }, att.name || 'attachment');
}

function paperclip() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'clip');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'attachments');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', 'M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5');
  svg.append(p);
  return svg;
}

function realAttachments(e) {
  return (e.attachments || []).filter((a) => a.disposition !== 'inline' || !a.cid);
}

function renderList() {
  const box = state.mailboxes.find((m) => m.id === state.current);
  const title = document.getElementById('list-title');
  if (title) title.textContent = state.search ? `Search: ${state.search}` : box ? box.name : '';
  const isSentLike = box && (box.role === 'sent' || box.role === 'drafts');
  if (!state.emails.length) {
    clear(ui.list, h('li', { class: 'empty' }, state.search ? 'No message matches.' : 'No messages.'));
  } else {
    clear(ui.list, state.emails.map((e) => {
      const unread = !e.keywords || !e.keywords.$seen;
      const flagged = e.keywords && e.keywords.$flagged;
      const atts = realAttachments(e);
      const who = isSentLike ? 'To: ' + addressText(e.to) : addressText(e.from) || '(no sender)';
      const row = h('li', {
        class: 'row' + (unread ? ' unread' : '') + (state.open === e.id ? ' selected' : ''),
        tabindex: '0', dataset: { emailId: e.id }, 'aria-label': `${unread ? 'Unread. ' : ''}${who}: ${e.subject || '(no subject)'}`,
        onclick: () => guard(() => openEmail(e.id)),
        onkeydown: (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); guard(() => openEmail(e.id)); } },
      },
      h('span', { class: 'from' }, who),
      h('span', { class: 'date' }, formatDate(e.receivedAt)),
      h('span', { class: 'subject' }, flagged ? h('span', { class: 'flag', 'aria-label': 'flagged' }, '⚑ ') : null,
        e.subject || '(no subject)'),
      h('span', { class: 'preview' }, e.preview || ''),
      atts.length ? h('span', { class: 'atts' }, paperclip(),
        atts.map((a) => attachmentLink(a))) : null);
      return row;
    }));
  }
  const from = state.total ? state.position + 1 : 0;
  const to = Math.min(state.position + PAGE, state.total);
  clear(ui.pager,
    h('button', { disabled: state.position === 0, onclick: () => { state.position = Math.max(0, state.position - PAGE); guard(loadList); } }, '‹ Newer'),
    h('span', {}, `${from}–${to} of ${state.total}`),
    h('button', { disabled: to >= state.total, onclick: () => { state.position += PAGE; guard(loadList); } }, 'Older ›'));
}

// ------------------------------------------------------------------ reader

async function openEmail(id) {
  state.view = 'mail';
  state.open = id;
  for (const r of ui.list.querySelectorAll('.row')) r.classList.toggle('selected', r.dataset.emailId === id);
  const r = await jmap.request([['Email/get', { accountId: jmap.accountId, ids: [id], properties: READ_PROPS,
    fetchHTMLBodyValues: true, fetchTextBodyValues: true, maxBodyValueBytes: 2000000 }, 'g']]);
  const e = r.g.list[0];
  if (!e) { status('That message is gone.', true); return; }
  const unseen = !e.keywords || !e.keywords.$seen;
  if (unseen) e.keywords = { ...(e.keywords || {}), $seen: true };
  renderReader(e);
  document.body.dataset.view = 'reader';
  if (unseen) {
    await jmap.request([['Email/set', { accountId: jmap.accountId, update: { [id]: { 'keywords/$seen': true } } }, 's']]);
    const row = ui.list.querySelector(`[data-email-id="${id}"]`);
    if (row) row.classList.remove('unread');
    await loadMailboxes();
  }
}

function bodyNode(e) {
  const html = (e.htmlBody || []).find((p) => p.type === 'text/html' && e.bodyValues && e.bodyValues[p.partId]);
  if (html) {
    const byCid = new Map();
    for (const a of [...(e.attachments || []), ...(e.htmlBody || [])]) if (a.cid) byCid.set(a.cid.replace(/^<|>$/g, ''), a);
    const allow = state.allowRemote.has(e.id);
    const { html: clean, remoteBlocked } = sanitizeMail(e.bodyValues[html.partId].value, {
      allowRemote: allow,
      cidUrl: (cid) => { const a = byCid.get(cid); return a ? jmap.downloadUrl(a.blobId, a.name || 'image', a.type) : null; },
    });
    const parts = [];
    if (remoteBlocked && !allow) {
      parts.push(h('div', { class: 'notice', id: 'remote-notice' }, 'Remote images in this message are blocked. ',
        h('button', { id: 'allow-remote', onclick: () => { state.allowRemote.add(e.id); renderReader(e); } }, 'Show remote images')));
    }
    if (e.bodyValues[html.partId].isTruncated) parts.push(truncatedNotice(e));
    parts.push(mailFrame(clean, allow));
    return parts;
  }
  const text = (e.textBody || []).map((p) => (e.bodyValues && e.bodyValues[p.partId] ? e.bodyValues[p.partId].value : '')).join('\n');
  const truncated = (e.textBody || []).some((p) => e.bodyValues && e.bodyValues[p.partId] && e.bodyValues[p.partId].isTruncated);
  return [truncated ? truncatedNotice(e) : null, h('pre', { class: 'plain', id: 'plain-body' }, linkify(text))];
}

// refmail puts its own Authentication-Results field on top of every message it checked
// (and removes outside fields claiming its name). Only a failure is shown: a field forged
// on mail that was not checked could claim a pass, never harm by claiming a fail.
function dmarcWarning(e) {
  const fields = e['header:Authentication-Results:all'] || [];
  const m = fields.length ? /(?:^|[;\s])dmarc=fail\b[^;]*/i.exec(fields[0]) : null;
  if (!m) return null;
  const d = /header\.from=([A-Za-z0-9.-]+)/i.exec(m[0]);
  return h('div', { class: 'notice warning', id: 'dmarc-warning', role: 'alert' },
    `Careful: this message says it comes from ${d ? d[1] : 'a domain'}, but that domain's DMARC check failed. ` +
    'It may be forged: do not trust its links, attachments or requests.');
}

function truncatedNotice(e) {
  return h('div', { class: 'notice' }, 'This body is long; only its beginning is shown. ',
    h('a', { href: jmap.downloadUrl(e.blobId, 'message.eml', 'message/rfc822'), download: 'message.eml' }, 'Show original'));
}

function renderReader(e) {
  state.openEmail = e;
  const boxOptions = state.mailboxes.map((m) => h('option', { value: m.id, selected: e.mailboxIds && e.mailboxIds[m.id] }, m.name));
  const move = h('select', { id: 'move-to', 'aria-label': 'Move to mailbox' }, boxOptions);
  move.addEventListener('change', () => guard(() => moveTo(e, move.value)));
  const trash = byRole('trash');
  const inTrash = trash && e.mailboxIds && e.mailboxIds[trash.id];
  const seen = e.keywords && e.keywords.$seen;
  const flagged = e.keywords && e.keywords.$flagged;
  const atts = realAttachments(e);
  clear(ui.reader,
    h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Message actions' },
      h('button', { class: 'back', onclick: () => { document.body.dataset.view = 'list'; }, 'aria-label': 'Back to the list' }, '‹ Back'),
      h('button', { id: 'reply', onclick: () => compose('reply', e) }, 'Reply'),
      h('button', { id: 'reply-all', onclick: () => compose('replyAll', e) }, 'Reply all'),
      h('button', { id: 'forward', onclick: () => compose('forward', e) }, 'Forward'),
      h('button', { id: 'toggle-seen', onclick: () => guard(() => setKeyword(e, '$seen', !seen)) }, seen ? 'Mark unread' : 'Mark read'),
      h('button', { id: 'toggle-flag', 'aria-pressed': flagged ? 'true' : 'false', onclick: () => guard(() => setKeyword(e, '$flagged', !flagged)) }, flagged ? 'Unflag' : 'Flag'),
      move,
      h('button', { id: 'delete', class: 'danger', onclick: () => guard(() => remove(e)) }, inTrash ? 'Delete for good' : 'Delete')),
    dmarcWarning(e),
    h('h2', { class: 'subject', id: 'reader-subject' }, e.subject || '(no subject)'),
    h('dl', { class: 'meta' },
      h('dt', {}, 'From'), h('dd', { id: 'reader-from' }, addressText(e.from, true)),
      h('dt', {}, 'To'), h('dd', {}, addressText(e.to, true)),
      e.cc ? [h('dt', {}, 'Cc'), h('dd', {}, addressText(e.cc, true))] : null,
      h('dt', {}, 'Date'), h('dd', {}, formatDate(e.sentAt || e.receivedAt, true))),
    atts.length ? h('ul', { class: 'attachments', id: 'attachments', 'aria-label': 'Attachments' }, atts.map((a) =>
      h('li', {}, attachmentLink(a, 'att-download'), h('span', { class: 'att-type' }, a.type),
        h('span', { class: 'att-size' }, formatSize(a.size))))) : null,
    h('div', { class: 'body-wrap' }, bodyNode(e)),
    h('p', { class: 'original' }, h('a', { id: 'show-original', href: jmap.downloadUrl(e.blobId, 'message.eml', 'message/rfc822'),
      download: 'message.eml' }, 'Show original (download the raw message)')));
}

async function setKeyword(e, kw, on) {
  await jmap.request([['Email/set', { accountId: jmap.accountId, update: { [e.id]: { [`keywords/${kw}`]: on ? true : null } } }, 's']]);
  e.keywords = { ...(e.keywords || {}) };
  if (on) e.keywords[kw] = true; else delete e.keywords[kw];
  renderReader(e);
  await refresh();
}

async function moveTo(e, boxId) {
  const r = await jmap.request([['Email/set', { accountId: jmap.accountId, update: { [e.id]: { mailboxIds: { [boxId]: true } } } }, 's']]);
  if (r.s.notUpdated) throw new JmapError(Object.values(r.s.notUpdated)[0].description || 'Move failed');
  closeReader();
  await refresh();
  status('Moved.');
}

async function remove(e) {
  const trash = byRole('trash');
  if (trash && !(e.mailboxIds && e.mailboxIds[trash.id])) return moveTo(e, trash.id);
  if (!window.confirm('Delete this message for good?')) return;
  const r = await jmap.request([['Email/set', { accountId: jmap.accountId, destroy: [e.id] }, 's']]);
  if (r.s.notDestroyed) throw new JmapError('Delete failed');
  closeReader();
  await refresh();
  status('Deleted for good.');
}

function closeReader() {
  state.open = null;
  state.openEmail = null;
  clear(ui.reader);
  document.body.dataset.view = 'list';
}

async function refresh() {
  await loadMailboxes();
  if (state.view === 'mail') await loadList();
}

// ------------------------------------------------------------------ compose, admin, filters

function compose(mode, e) {
  state.view = 'mail';
  openCompose({ jmap, mode, email: e, container: ui.reader, byRole, status,
    done: () => { closeReader(); guard(refresh); } });
  document.body.dataset.view = 'reader';
}

function openAdmin() {
  state.view = 'admin';
  renderMailboxes();
  document.body.dataset.view = 'reader';
  guard(() => showAdmin({ jmap, container: ui.reader }));
}

function openFilters() {
  state.view = 'filters';
  renderMailboxes();
  document.body.dataset.view = 'reader';
  showFilters({ jmap, container: ui.reader, mailboxes: state.mailboxes, guard });
}

// ------------------------------------------------------------------ keyboard, events

function onKey(ev) {
  if (!jmap.signedIn) return;
  const t = ev.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) {
    if (ev.key === 'Escape') t.blur();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const rows = [...ui.list.querySelectorAll('.row')];
  const i = rows.indexOf(document.activeElement);
  if (ev.key === 'j' || ev.key === 'ArrowDown') { ev.preventDefault(); (rows[i + 1] || rows[0])?.focus(); }
  else if (ev.key === 'k' || ev.key === 'ArrowUp') { ev.preventDefault(); (rows[i - 1] || rows[0])?.focus(); }
  else if (ev.key === '/') { ev.preventDefault(); ui.search.focus(); }
  else if (ev.key === 'c') { ev.preventDefault(); compose('new'); }
  else if (ev.key === 'r' && state.openEmail) { ev.preventDefault(); compose('reply', state.openEmail); }
  else if (ev.key === 'Escape') closeReader();
}

function listen() {
  if (state.events) state.events.close();
  state.events = jmap.events((change) => {
    const s = change.changed && change.changed[jmap.accountId] && change.changed[jmap.accountId].Email;
    if (!s || s === state.lastState) return;
    const first = !state.lastState;
    state.lastState = s;
    if (!first) guard(refresh);
  });
  state.events.onerror = () => {
    if (!jmap.signedIn && state.events) { state.events.close(); state.events = null; }
  };
}

async function start() {
  shell();
  await loadMailboxes();
  await loadList();
  listen();
  const first = ui.list.querySelector('.row');
  if (first) first.focus();
}

document.addEventListener('keydown', onKey);
(async () => {
  // Probe the session only when this tab signed in before (a 401 would be a console error).
  if (jmap.username && jmap.csrf) {
    try { if (await jmap.loadSession()) return await start(); } catch (e) { return showLogin(e.message); }
  }
  showLogin();
})();

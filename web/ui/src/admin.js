// The admin page: logical vs physical bytes, the saving ratio, per-domain and
// per-account usage and the most-shared attachments, drawn as inline SVG (no chart
// library, no remote asset). Numbers come from GET /api/admin/stats (admin accounts).
import { h, clear, formatSize } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function barChart(title, rows) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 28, labelW = 170, barW = 360, w = labelW + barW + 110;
  const svg = s('svg', { viewBox: `0 0 ${w} ${rows.length * rowH + 8}`, role: 'img', 'aria-label': title, class: 'chart' });
  svg.append(s('title', {}, title));
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const len = Math.max(1, Math.round((barW * r.value) / max));
    svg.append(s('text', { x: labelW - 8, y: y + 17, 'text-anchor': 'end', class: 'chart-label' }, r.label));
    svg.append(s('rect', { x: labelW, y, width: len, height: rowH - 8, rx: 3, class: r.cls || 'bar' }));
    svg.append(s('text', { x: labelW + len + 6, y: y + 17, class: 'chart-value' }, formatSize(r.value)));
  });
  return svg;
}

function table(caption, head, rows) {
  return h('table', {}, h('caption', {}, caption),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

export async function showAdmin({ container }) {
  clear(container, h('p', {}, 'Loading…'));
  const r = await fetch('/api/admin/stats', { credentials: 'same-origin' });
  if (r.status === 403) { clear(container, h('h2', {}, 'Admin'), h('p', { id: 'admin-denied' }, 'This page is for admin accounts only.')); return; }
  if (!r.ok) throw new Error(`Stats unavailable (${r.status}).`);
  const st = await r.json();
  const card = (key, label, shown) => h('div', { class: 'card' }, h('span', { class: 'card-label' }, label),
    h('span', { class: 'card-value', dataset: { stat: key, value: String(st[key]) } }, shown));
  const pct = `${(100 * st.saving_ratio).toFixed(1)} %`;
  clear(container,
    h('h2', { id: 'admin-title' }, 'Storage savings'),
    h('div', { class: 'cards' },
      card('logical_bytes', 'Logical (what mailboxes hold)', formatSize(st.logical_bytes)),
      card('physical_bytes', 'Physical (stored once)', formatSize(st.physical_bytes)),
      card('saving_ratio', 'Saved', pct),
      card('messages', 'Messages', String(st.messages)),
      card('blobs', 'Stored attachments', String(st.blobs)),
      card('mailbox_rows', 'Mailbox entries', String(st.mailbox_rows))),
    barChart('Logical vs physical bytes', [
      { label: 'Logical', value: st.logical_bytes, cls: 'bar logical' },
      { label: 'Physical', value: st.physical_bytes, cls: 'bar physical' }]),
    (st.accounts || []).length ? barChart('Logical bytes per account',
      st.accounts.map((a) => ({ label: a.name, value: a.logical_bytes }))) : null,
    table('Per domain', ['Domain', 'Logical', 'Messages'],
      (st.domains || []).map((d) => [d.name, h('span', { dataset: { domainBytes: d.name, value: String(d.logical_bytes) } }, formatSize(d.logical_bytes)), String(d.messages)])),
    table('Per account', ['Account', 'Logical', 'Messages'],
      (st.accounts || []).map((a) => [a.name, h('span', { dataset: { accountBytes: a.name, value: String(a.logical_bytes) } }, formatSize(a.logical_bytes)), String(a.messages)])),
    table('Most shared attachments', ['Name', 'Size', 'References', 'Saved'],
      (st.top_shared || []).map((t) => [t.name || '(unnamed)', formatSize(t.size), String(t.references), formatSize(t.bytes_saved)])),
    filtering(st.filtering));
}

// Spam filtering and Sieve since refmaild started (the counters of /metrics).
function filtering(f) {
  if (!f) return null;
  const count = (key, n) => h('span', { dataset: { filter: key, value: String(n) } }, String(n));
  return h('section', { id: 'admin-filtering' },
    h('h2', {}, 'Filtering since refmaild started'),
    table('Spam verdicts (rspamd)', ['Action', 'Messages'],
      f.spam_actions.map((a) => [a.action, count(`spam:${a.action}`, a.count)])),
    table('Learning from users (moves into and out of Junk)', ['Result', 'Messages'],
      f.spam_learned.map((a) => [a.result, count(`learn:${a.result}`, a.count)])),
    table('Sieve and outbound', ['Outcome', 'Count'], [
      ['Vacation replies sent', count('vacation_replies', f.vacation_replies)],
      ['Sieve script errors', count('sieve_errors', f.sieve_errors)],
      ['Outbound spam blocked', count('spam_outbound_blocked', f.spam_outbound_blocked)]]));
}

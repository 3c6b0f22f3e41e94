// Tiny DOM helpers: h() builds elements from tag, attributes and children. Text is
// always set as text nodes (never innerHTML), so mail data cannot become markup here.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function formatSize(n) {
  if (n === undefined || n === null) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const sameDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const otherDay = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso, long = false) {
  if (!iso) return '';
  const d = new Date(iso);
  if (long) return full.format(d);
  const now = new Date();
  return d.toDateString() === now.toDateString() ? sameDay.format(d) : otherDay.format(d);
}

export function addressText(list, withEmail = false) {
  if (!list || !list.length) return '';
  return list.map((a) => (a.name ? (withEmail ? `${a.name} <${a.email}>` : a.name) : a.email)).join(', ');
}

// Parses "Name <a@b>, c@d" into JMAP EmailAddress objects; null if one is malformed.
export function parseAddresses(text) {
  const out = [];
  for (const raw of text.split(/[,;]/).map((s) => s.trim()).filter(Boolean)) {
    const m = raw.match(/^(.*?)\s*<([^<>\s]+@[^<>\s]+)>$/);
    if (m) out.push({ name: m[1].replace(/^"|"$/g, '') || null, email: m[2] });
    else if (/^[^\s<>@]+@[^\s<>@]+$/.test(raw)) out.push({ name: null, email: raw });
    else return null;
  }
  return out;
}

// Plain text with http(s)/mailto links made clickable (text nodes and <a> only).
export function linkify(text) {
  const frag = document.createDocumentFragment();
  const re = /\b((?:https?:\/\/|mailto:)[^\s<>"')\]]+)/gi;
  let last = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > last) frag.append(document.createTextNode(text.slice(last, m.index)));
    let url = m[1].replace(/[.,;:!?]+$/, '');
    frag.append(h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url));
    last = m.index + url.length;
    re.lastIndex = last;
  }
  if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
  return frag;
}

// The simple rule editor's model: a list of rules <-> the Sieve script it saves (RFC 5228
// with fileinto, mailbox, imap4flags, copy). Pure functions, no DOM and no network.
// The script starts with a marker line and the rules as one line of ASCII JSON, so the
// editor reads back exactly what it wrote; a script whose body is not what these rules
// generate (edited by hand, or written by another client) is not parsed: readRules says
// so and the editor leaves it to the raw script editor.
// SECURITY: every value reaches the script only through sieveString(), which escapes
// backslash and double quote; values with line breaks or other control characters are
// refused by checkRule(), so no value can end a string or a comment early.

export const RULES_SCRIPT_NAME = 'webmail-rules';
export const MARKER = '# refmail webmail rules v1 (written by the webmail rule editor: edit them there)';

export const FIELDS = { from: 'From', to: 'To', subject: 'Subject' };
export const MATCHES = { contains: 'contains', is: 'is' };
export const ACTIONS = { fileinto: 'Move to folder', flag: 'Add flag', redirect: 'Forward to', discard: 'Discard' };

export function emptyRule() {
  return { field: 'subject', match: 'contains', value: '', action: 'fileinto', target: '', copy: false, stop: true };
}

// RFC 5228 2.4.2: a quoted string; only backslash and double quote need escaping.
// REQUIRES: s holds no control characters (checkRule refuses them).
export function sieveString(s) {
  return '"' + String(s).replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

// C0 controls (CR and LF included), DEL, C1, and U+2028/2029: never in a rule value.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

// "" when the rule can be saved, else what is wrong (for the user).
export function checkRule(r) {
  if (!FIELDS[r.field]) return 'unknown field';
  if (!MATCHES[r.match]) return 'unknown comparison';
  if (!ACTIONS[r.action]) return 'unknown action';
  if (typeof r.value !== 'string' || r.value.trim() === '') return 'the value to look for is empty';
  if (CONTROL.test(r.value)) return 'the value to look for holds a line break or control character';
  if (r.value.length > 1000) return 'the value to look for is too long';
  if (r.action === 'discard') return '';
  const t = typeof r.target === 'string' ? r.target.trim() : '';
  if (!t) return r.action === 'fileinto' ? 'no folder given' : r.action === 'flag' ? 'no flag given' : 'no address given';
  if (CONTROL.test(t)) return 'the target holds a line break or control character';
  if (t.length > 1000) return 'the target is too long';
  // RFC 5232 3: a flag list string is split on spaces, so one flag has none.
  if (r.action === 'flag' && !/^\\?[^\s(){\]%*"\\]+$/.test(t)) return 'a flag is one word (like \\Flagged or $work)';
  if (r.action === 'redirect' && !/^[^\s<>@",;]+@[^\s<>@",;]+\.[^\s<>@",;]+$/.test(t)) return 'the forwarding address is not an address';
  return '';
}

function normalise(r) {
  const out = { field: r.field, match: r.match, value: r.value, action: r.action };
  if (r.action !== 'discard') out.target = r.target.trim();
  if (r.action === 'redirect') out.copy = !!r.copy;
  out.stop = !!r.stop;
  return out;
}

// JSON with every non-ASCII character as \uXXXX: the comment line is pure ASCII and
// JSON.stringify never writes a raw line break, so it stays one comment line.
function asciiJson(v) {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function test(r) {
  const v = sieveString(r.value);
  if (r.field === 'subject') return `header :${r.match} "subject" ${v}`;
  // "contains" looks at the whole field (display names too); "is" compares the address.
  if (r.match === 'contains') return `header :contains "${r.field}" ${v}`;
  return `address :is :all "${r.field}" ${v}`;
}

function action(r) {
  switch (r.action) {
    case 'fileinto': return `fileinto :create ${sieveString(r.target)};`;
    case 'flag': return `addflag ${sieveString(r.target)};`;
    case 'redirect': return r.copy ? `redirect :copy ${sieveString(r.target)};` : `redirect ${sieveString(r.target)};`;
    case 'discard': return 'discard;';
    default: throw new Error('unknown action ' + r.action);
  }
}

// The script for `rules` (CRLF line ends). Throws when a rule fails checkRule().
export function generateScript(rules) {
  const list = rules.map((r, i) => {
    const why = checkRule(r);
    if (why) throw new Error(`Rule ${i + 1}: ${why}.`);
    return normalise(r);
  });
  const req = new Set();
  for (const r of list) {
    if (r.action === 'fileinto') { req.add('fileinto'); req.add('mailbox'); }
    if (r.action === 'flag') req.add('imap4flags');
    if (r.action === 'redirect' && r.copy) req.add('copy');
  }
  const lines = [MARKER, '# ' + asciiJson({ v: 1, rules: list })];
  if (req.size) lines.push(`require [${[...req].sort().map(sieveString).join(', ')}];`);
  list.forEach((r, i) => {
    lines.push(`# rule ${i + 1}`);
    lines.push(`if ${test(r)} {`);
    lines.push('  ' + action(r));
    if (r.stop) lines.push('  stop;');
    lines.push('}');
  });
  return lines.join('\r\n') + '\r\n';
}

// {rules} when `text` is a script this editor wrote and nobody changed since, else
// {foreign: why}.
export function readRules(text) {
  const src = String(text).replace(/\r?\n/g, '\r\n');
  const lines = src.split('\r\n');
  if (lines[0] !== MARKER) return { foreign: 'it was not written by the rule editor' };
  let data;
  try { data = JSON.parse((lines[1] || '').replace(/^# /, '')); } catch { return { foreign: 'its rule list is damaged' }; }
  if (!data || data.v !== 1 || !Array.isArray(data.rules)) return { foreign: 'its rule list is damaged' };
  let again;
  try { again = generateScript(data.rules); } catch { return { foreign: 'its rule list is damaged' }; }
  if (again !== src) return { foreign: 'it was changed outside the rule editor' };
  return { rules: data.rules.map((r) => ({ ...emptyRule(), ...r })) };
}

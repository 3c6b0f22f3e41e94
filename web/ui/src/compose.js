// Compose, reply, reply-all and forward. New files are hashed (SHA-256, streamed) and
// offered to the server by digest first; only unknown files are uploaded, with a
// progress bar. Forwarded attachments stay on the server: they are referenced by
// blobId with no upload. Drafts go to Drafts (Email/set); sending creates the email and
// submits it in one request (EmailSubmission/set + onSuccessUpdateEmail -> Sent). A
// failure is shown and the draft is kept.
import DOMPurify from 'dompurify';
import { h, clear, formatSize, addressText, parseAddresses } from './dom.js';

function prefix(p, subject) {
  const s = subject || '';
  return new RegExp(`^${p}:`, 'i').test(s) ? s : `${p}: ${s}`;
}

function textOf(e) {
  return (e.textBody || []).map((p) => (e.bodyValues && e.bodyValues[p.partId] ? e.bodyValues[p.partId].value : '')).join('\n');
}

function quote(e) {
  const who = addressText(e.from, true) || 'someone';
  const when = e.sentAt || e.receivedAt || '';
  return `\n\nOn ${when}, ${who} wrote:\n` + textOf(e).split('\n').map((l) => '> ' + l).join('\n');
}

export function openCompose({ jmap, mode, email, container, byRole, status, done }) {
  const me = jmap.username.toLowerCase();
  let to = [], cc = [], subject = '', body = '';
  let inReplyTo = null, references = null;  // RFC 8621 4.1.2.3 (ids without <>)
  const atts = [];  // {name, type, size, blobId, state: 'ready'|'busy'|'error', bar, row}
  if (email && (mode === 'reply' || mode === 'replyAll')) {
    to = email.replyTo || email.from || [];
    if (mode === 'replyAll') {
      const seen = new Set([me, ...to.map((a) => a.email.toLowerCase())]);
      for (const a of [...(email.to || []), ...(email.cc || [])]) {
        if (!seen.has(a.email.toLowerCase())) { seen.add(a.email.toLowerCase()); cc.push(a); }
      }
    }
    subject = prefix('Re', email.subject);
    body = quote(email);
    const ids = (list) => (list || []).map((m) => m.replace(/^<|>$/g, ''));
    if (email.messageId && email.messageId.length) {
      inReplyTo = ids(email.messageId);
      references = [...ids(email.references), ...inReplyTo];
    }
  } else if (email && mode === 'forward') {
    subject = prefix('Fwd', email.subject);
    body = `\n\n---------- Forwarded message ----------\nFrom: ${addressText(email.from, true)}\n` +
      `Subject: ${email.subject || ''}\nTo: ${addressText(email.to, true)}\n\n${textOf(email)}`;
  }
  const fmt = (list) => list.map((a) => (a.name ? `${a.name} <${a.email}>` : a.email)).join(', ');
  const toIn = h('input', { id: 'compose-to', value: fmt(to), autocomplete: 'off' });
  const ccIn = h('input', { id: 'compose-cc', value: fmt(cc), autocomplete: 'off' });
  const bccIn = h('input', { id: 'compose-bcc', autocomplete: 'off' });
  const subjIn = h('input', { id: 'compose-subject', value: subject });
  const bodyIn = h('textarea', { id: 'compose-body', rows: '14' });
  bodyIn.value = body;
  // Rich text: a contenteditable editor with a few commands; sent as text/html (sanitised)
  // with its plain-text rendering as the text/plain alternative.
  const rich = h('div', { id: 'compose-rich', class: 'rich', contenteditable: 'true', role: 'textbox',
    'aria-multiline': 'true', 'aria-label': 'Message', hidden: true });
  const cmd = (name, label, value) => h('button', { type: 'button', dataset: { cmd: name }, onclick: () => {
    rich.focus();
    document.execCommand(name, false, value ? value() : undefined);
  } }, label);
  const richBar = h('div', { class: 'rich-bar', role: 'toolbar', 'aria-label': 'Formatting', hidden: true },
    cmd('bold', 'Bold'), cmd('italic', 'Italic'), cmd('insertUnorderedList', 'List'),
    cmd('createLink', 'Link', () => window.prompt('Link address (https://…)') || ''));
  const richToggle = h('input', { type: 'checkbox', id: 'compose-rich-toggle' });
  richToggle.addEventListener('change', () => {
    if (richToggle.checked) {
      rich.replaceChildren();
      for (const line of bodyIn.value.split('\n')) rich.append(h('div', {}, line || h('br')));
    } else {
      bodyIn.value = rich.innerText;
    }
    rich.hidden = richBar.hidden = !richToggle.checked;
    bodyIn.hidden = richToggle.checked;
  });
  const attList = h('ul', { class: 'compose-atts', id: 'compose-attachments', 'aria-label': 'Attachments' });
  const fileIn = h('input', { type: 'file', id: 'compose-file', multiple: true, class: 'file' });
  const err = h('p', { class: 'compose-error', role: 'alert', id: 'compose-error' });
  const sendBtn = h('button', { type: 'submit', class: 'primary', id: 'compose-send' }, 'Send');
  let draftId = null;

  function renderAtt(a) {
    a.bar = h('progress', { max: '100', value: a.state === 'ready' ? '100' : '0', 'aria-label': `Upload of ${a.name}` });
    a.note = h('span', { class: 'att-note' }, a.note || '');
    a.row = h('li', { dataset: { name: a.name, state: a.state } }, h('span', { class: 'att-name' }, a.name),
      h('span', { class: 'att-size' }, formatSize(a.size)), a.bar, a.note,
      h('button', { type: 'button', 'aria-label': `Remove ${a.name}`, onclick: () => {
        atts.splice(atts.indexOf(a), 1); a.row.remove(); } }, '✕'));
    attList.append(a.row);
  }
  function setState(a, st, note) {
    a.state = st;
    a.row.dataset.state = st;
    if (note !== undefined) a.note.textContent = note;
  }

  async function addBlob(blob, name, type) {
    const a = { name, type: type || blob.type || 'application/octet-stream', size: blob.size, state: 'busy' };
    atts.push(a);
    renderAtt(a);
    try {
      const r = await jmap.upload(blob, a.type, (phase, n, t) => {
        a.bar.value = t ? Math.round((100 * n) / t) : 0;
        a.note.textContent = phase === 'hashing' ? 'checking…' : 'uploading…';
      });
      a.blobId = r.blobId;
      a.bar.value = 100;
      setState(a, 'ready', r.reused ? 'already on the server' : 'uploaded');
      a.row.dataset.reused = r.reused ? 'true' : 'false';
    } catch (x) {
      setState(a, 'error', x.message);
      err.textContent = `${name}: ${x.message}`;
    }
  }

  if (email && mode === 'forward') {
    // Kept by reference: the server already holds these bytes (a part kept inside the
    // original message is referenced by its part blobId and copied server-side).
    for (const x of (email.attachments || []).filter((a) => a.disposition !== 'inline' || !a.cid)) {
      const a = { name: x.name || 'attachment', type: x.type, size: x.size, blobId: x.blobId, state: 'ready',
        note: 'kept from the original' };
      atts.push(a);
      renderAtt(a);
    }
  }
  fileIn.addEventListener('change', () => {
    for (const f of fileIn.files) addBlob(f, f.name, f.type);
    fileIn.value = '';
  });

  function message() {
    const t = parseAddresses(toIn.value), c = parseAddresses(ccIn.value), b = parseAddresses(bccIn.value);
    if (!t || !c || !b) throw new Error('A recipient address is not valid.');
    const drafts = byRole('drafts');
    const o = {
      mailboxIds: { [drafts.id]: true }, keywords: { $draft: true, $seen: true },
      from: [{ name: null, email: jmap.username }], subject: subjIn.value,
      textBody: [{ partId: '1', type: 'text/plain' }],
      bodyValues: { 1: { value: richToggle.checked ? rich.innerText.replace(/\u00a0/g, ' ') : bodyIn.value } },
      attachments: atts.filter((a) => a.state === 'ready').map((a) => ({ blobId: a.blobId, name: a.name, type: a.type })),
    };
    if (richToggle.checked) {
      const clean = DOMPurify.sanitize(rich.innerHTML, { FORBID_TAGS: ['style', 'form', 'input', 'img'] });
      o.htmlBody = [{ partId: '2', type: 'text/html' }];
      o.bodyValues[2] = { value: `<!doctype html><html><body>${clean}</body></html>` };
    }
    if (inReplyTo) { o.inReplyTo = inReplyTo; o.references = references; }
    if (t.length) o.to = t;
    if (c.length) o.cc = c;
    if (b.length) o.bcc = b;
    return { o, count: t.length + c.length + b.length };
  }
  function pending() {
    if (atts.some((a) => a.state === 'busy')) throw new Error('Wait for the attachments to finish.');
    if (atts.some((a) => a.state === 'error')) throw new Error('Remove the attachment that failed first.');
  }

  async function saveDraft() {
    err.textContent = '';
    try {
      pending();
      const { o } = message();
      const args = { accountId: jmap.accountId, create: { d: o } };
      if (draftId) args.destroy = [draftId];
      const r = await jmap.request([['Email/set', args, 'e']]);
      if (r.e.notCreated) throw new Error(r.e.notCreated.d.description || r.e.notCreated.d.type);
      draftId = r.e.created.d.id;
      status('Draft saved.');
    } catch (x) { err.textContent = `Draft not saved: ${x.message}`; }
  }

  async function send(ev) {
    ev.preventDefault();
    err.textContent = '';
    sendBtn.disabled = true;
    try {
      pending();
      const { o, count } = message();
      if (!count) throw new Error('Add at least one recipient.');
      const sent = byRole('sent');
      const args = { accountId: jmap.accountId, create: { d: o } };
      if (draftId) args.destroy = [draftId];
      const r = await jmap.request([
        ['Email/set', args, 'e'],
        ['EmailSubmission/set', { accountId: jmap.accountId, create: { s: { emailId: '#d', identityId: 'I0' } },
          onSuccessUpdateEmail: { '#s': { mailboxIds: { [sent.id]: true }, 'keywords/$draft': null } } }, 's'],
      ]);
      if (r.e.notCreated) throw new Error(r.e.notCreated.d.description || r.e.notCreated.d.type);
      draftId = r.e.created.d.id;
      if (r.s.notCreated) {
        const x = r.s.notCreated.s;
        throw new Error(`${x.description || x.type} (the draft is kept in Drafts)`);
      }
      status('Message sent.');
      done();
    } catch (x) {
      err.textContent = `Not sent: ${x.message}`;
    } finally { sendBtn.disabled = false; }
  }

  const title = { new: 'New message', reply: 'Reply', replyAll: 'Reply all', forward: 'Forward' }[mode];
  const row = (label, input) => h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
  const form = h('form', { class: 'compose', id: 'compose-form', 'aria-label': title },
    h('h2', {}, title),
    row('To', toIn), row('Cc', ccIn), row('Bcc', bccIn), row('Subject', subjIn),
    h('div', { class: 'field' }, h('span'), h('label', { class: 'inline' }, richToggle, ' Rich text')),
    richBar, h('label', { for: 'compose-body', class: 'sr-only' }, 'Message'), bodyIn, rich,
    h('div', { class: 'field' }, h('label', { for: 'compose-file' }, 'Attach'), fileIn), attList, err,
    h('div', { class: 'actions' }, sendBtn,
      h('button', { type: 'button', id: 'compose-save', onclick: saveDraft }, 'Save draft'),
      h('button', { type: 'button', id: 'compose-discard', onclick: () => done() }, 'Discard')));
  form.addEventListener('submit', send);
  clear(container, form);
  (to.length ? bodyIn : toIn).focus();
  if (to.length) bodyIn.setSelectionRange(0, 0);
}

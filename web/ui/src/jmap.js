// The JMAP client (RFC 8620/8621) over refmaild's cookie session: sign-in via
// POST /api/login (HttpOnly cookie + a CSRF token kept in sessionStorage for
// requests whose body is not JSON), method batches, download URLs, uploads with the
// SHA-256 digest pre-check, and the event source.
import { createSHA256 } from 'hash-wasm';

const CAP = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission'];

export class JmapError extends Error {
  constructor(message, type) { super(message); this.type = type; }
}

export class Jmap {
  constructor() {
    this.session = null;
    this.accountId = '';
    this.username = sessionStorage.getItem('refmail.account') || '';
    this.csrf = sessionStorage.getItem('refmail.csrf') || '';
  }

  get signedIn() { return !!this.session; }

  async login(username, password) {
    const r = await fetch('/api/login', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    // 429: throttled after failed logins; 503: password checks busy. Both pass in seconds.
    if (r.status === 429 || r.status === 503) throw new JmapError('Too many attempts; try again in a few seconds.');
    if (!r.ok) throw new JmapError('Wrong address or password.');
    const j = await r.json();
    this.username = j.account;
    this.csrf = j.csrfToken;
    sessionStorage.setItem('refmail.account', this.username);
    sessionStorage.setItem('refmail.csrf', this.csrf);
    return this.loadSession();
  }

  async loadSession() {
    const r = await fetch('/.well-known/jmap', { credentials: 'same-origin' });
    if (r.status === 401) { this.forget(); return null; }
    if (!r.ok) throw new JmapError(`The server answered ${r.status}.`);
    this.session = await r.json();
    this.accountId = this.session.primaryAccounts['urn:ietf:params:jmap:mail'];
    this.username = this.session.username;
    return this.session;
  }

  forget() {
    this.session = null;
    sessionStorage.removeItem('refmail.account');
    sessionStorage.removeItem('refmail.csrf');
  }

  async logout() {
    try {
      await fetch('/api/logout', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrf }, body: '{}',
      });
    } finally { this.forget(); }
  }

  // Runs method calls; returns {name: args} keyed by call id, throws on errors. `using`
  // adds capabilities (Sieve, VacationResponse) to the mail ones every call names.
  async request(calls, using = []) {
    const r = await fetch(this.session.apiUrl, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrf },
      body: JSON.stringify({ using: [...CAP, ...using], methodCalls: calls }),
    });
    if (r.status === 401) { this.forget(); throw new JmapError('Your session has ended; sign in again.', 'auth'); }
    if (!r.ok) {
      let detail = '';
      try { detail = (await r.json()).detail || ''; } catch { /* not JSON */ }
      throw new JmapError(`The server refused the request (${r.status}) ${detail}`.trim());
    }
    const out = {};
    for (const [name, args, id] of (await r.json()).methodResponses) {
      if (name === 'error') throw new JmapError(`${args.type}${args.description ? ': ' + args.description : ''}`, args.type);
      if (!(id in out)) out[id] = args;
      else out[id + ':' + name] = args;  // implicit Email/set after EmailSubmission/set
    }
    return out;
  }

  // Whether the session offers a capability (e.g. urn:ietf:params:jmap:sieve).
  has(capability) { return !!(this.session && this.session.capabilities && this.session.capabilities[capability]); }

  downloadUrl(blobId, name, type) {
    const n = encodeURIComponent(name || 'download');
    const t = encodeURIComponent(type || 'application/octet-stream');
    return `/jmap/download/${this.accountId}/${encodeURIComponent(blobId)}/${n}?accept=${t}`;
  }

  uploadUrl() { return `/jmap/upload/${this.accountId}/`; }

  // SHA-256 of a Blob, read as a stream (a large file is never held in memory whole).
  static async sha256Base64(blob, onProgress) {
    const hasher = await createSHA256();
    hasher.init();
    const reader = blob.stream().getReader();
    let done = 0;
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      hasher.update(value);
      done += value.length;
      if (onProgress) onProgress(done, blob.size);
    }
    const digest = hasher.digest('binary');
    let s = '';
    for (const b of digest) s += String.fromCharCode(b);
    return btoa(s);
  }

  // Uploads a file: digest first, then the pre-check (empty POST with Repr-Digest,
  // RFC 9530); only when the server does not already hold it for us (412) are the
  // bytes sent, with progress. Resolves to {blobId, size, type, reused}.
  async upload(blob, type, onProgress) {
    const ctype = type || blob.type || 'application/octet-stream';
    const digest = await Jmap.sha256Base64(blob, (n, t) => onProgress && onProgress('hashing', n, t));
    const header = `sha-256=:${digest}:`;
    const pre = await fetch(this.uploadUrl(), {
      method: 'POST', credentials: 'same-origin', body: '',
      headers: { 'Content-Type': ctype, 'Repr-Digest': header, 'X-CSRF-Token': this.csrf },
    });
    if (pre.status === 201) return { ...(await pre.json()), reused: true };
    if (pre.status !== 412) throw new JmapError(`Upload refused (${pre.status}).`);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', this.uploadUrl());
      xhr.withCredentials = true;
      xhr.setRequestHeader('Content-Type', ctype);
      xhr.setRequestHeader('Repr-Digest', header);
      xhr.setRequestHeader('X-CSRF-Token', this.csrf);
      xhr.upload.onprogress = (e) => onProgress && onProgress('uploading', e.loaded, e.total || blob.size);
      xhr.onload = () => {
        if (xhr.status === 201) resolve({ ...JSON.parse(xhr.responseText), reused: false });
        else {
          let why = '';
          try { why = JSON.parse(xhr.responseText).error; } catch { /* not JSON */ }
          reject(new JmapError(`Upload failed (${xhr.status}${why ? ': ' + why : ''}).`));
        }
      };
      xhr.onerror = () => reject(new JmapError('Upload failed: the connection broke.'));
      xhr.send(blob);
    });
  }

  events(onChange) {
    const es = new EventSource('/jmap/eventsource?types=*&closeafter=no&ping=30', { withCredentials: true });
    es.addEventListener('state', (e) => {
      try { onChange(JSON.parse(e.data)); } catch { /* ignore a malformed event */ }
    });
    return es;
  }
}

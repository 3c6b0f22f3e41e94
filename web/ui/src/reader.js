// Rendering a received HTML body safely. The HTML is sanitised with DOMPurify (no
// script, event handler, javascript: URL, form, object/embed, base or meta), then
// shown in an <iframe sandbox> WITHOUT allow-scripts and with its own CSP in srcdoc
// (default-src 'none'; images only from this server or data: unless the reader
// allows remote images). The frame keeps mail CSS inside its box. cid: images become
// authorised download URLs; remote images are held back until allowed.
import DOMPurify from 'dompurify';

const FORBID_TAGS = ['form', 'input', 'button', 'textarea', 'select', 'option', 'object', 'embed', 'iframe',
  'frame', 'frameset', 'base', 'meta', 'link', 'script', 'noscript', 'applet', 'portal', 'math', 'svg'];

// Renames on*= attributes inside tags before the HTML is parsed at all. DOMPurify
// removes them anyway and the page's CSP would block them, but Chromium reports a CSP
// violation (a console error) as soon as even an inert parser meets a handler.
// Best effort only: DOMPurify remains the sanitiser.
function defuseHandlers(html) {
  // [^<>] keeps every scan inside one tag: linear time even on hostile input.
  const re = /(<[a-zA-Z][^<>]*?[\s/'"])on([a-z]+\s*=)/gi;
  for (let i = 0; i < 32; i++) {
    const next = html.replace(re, '$1data-defused-on$2');
    if (next === html) break;
    html = next;
  }
  return html;
}

// Returns {html, remoteBlocked} with the sanitised body.
export function sanitizeMail(html, { cidUrl, allowRemote }) {
  html = defuseHandlers(html);
  let remoteBlocked = 0;
  const purify = DOMPurify();
  purify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
    for (const attr of ['src', 'background', 'poster']) {
      if (!node.hasAttribute || !node.hasAttribute(attr)) continue;
      const v = node.getAttribute(attr).trim();
      if (/^cid:/i.test(v)) {
        const url = cidUrl(decodeURIComponent(v.slice(4)));
        if (url) node.setAttribute(attr, url); else node.removeAttribute(attr);
      } else if (/^https?:/i.test(v) || v.startsWith('//')) {
        if (!allowRemote) {
          node.removeAttribute(attr);
          node.setAttribute('data-remote-blocked', '');
          remoteBlocked++;
        }
      } else if (!/^data:image\//i.test(v)) {
        node.removeAttribute(attr);
      }
    }
    if (node.hasAttribute && node.hasAttribute('srcset')) node.removeAttribute('srcset');
    if (!allowRemote && node.hasAttribute && node.hasAttribute('style') && /url\s*\(/i.test(node.getAttribute('style'))) {
      remoteBlocked++;  // CSS backgrounds: the frame's CSP blocks them; count for the notice
    }
  });
  const clean = purify.sanitize(html, {
    FORBID_TAGS,
    FORBID_ATTR: ['action', 'formaction', 'ping', 'srcdoc'],
    ALLOW_DATA_ATTR: false,
    ADD_ATTR: ['target'],
    WHOLE_DOCUMENT: false,
  });
  return { html: clean, remoteBlocked };
}

export function frameDocument(cleanHtml, allowRemote) {
  const img = allowRemote ? "'self' data: https: http:" : "'self' data:";
  const csp = `default-src 'none'; img-src ${img}; style-src 'unsafe-inline'; font-src data:; media-src 'none'`;
  return `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">` +
    `<meta name="referrer" content="no-referrer"><base target="_blank">` +
    `<style>html,body{margin:0}body{padding:12px;font:14px/1.5 system-ui,sans-serif;color:#1d232b;` +
    `overflow-wrap:anywhere}img{max-width:100%;height:auto}table{max-width:100%}</style>` +
    `</head><body>${cleanHtml}</body></html>`;
}

// An iframe showing the sanitised HTML, sized to its content.
export function mailFrame(cleanHtml, allowRemote) {
  const frame = document.createElement('iframe');
  // No allow-scripts: nothing in the mail can run. allow-same-origin only so this page
  // can size the frame and so cid: images (same-origin download URLs) carry the cookie.
  frame.setAttribute('sandbox', 'allow-same-origin allow-popups allow-popups-to-escape-sandbox');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.setAttribute('title', 'Message body');
  frame.className = 'mail-frame';
  frame.srcdoc = frameDocument(cleanHtml, allowRemote);
  const fit = () => {
    try {
      const doc = frame.contentDocument;
      if (doc && doc.documentElement) frame.style.height = Math.min(doc.documentElement.scrollHeight + 4, 200000) + 'px';
    } catch { /* not reachable */ }
  };
  frame.addEventListener('load', () => {
    fit();
    const doc = frame.contentDocument;
    if (doc) for (const im of doc.images) im.addEventListener('load', fit);
    setTimeout(fit, 300);
  });
  return frame;
}

// tests/clients/imapflow_resync.mjs — imapflow (a real IMAP client library) against
// refmaild, driven by tests/e2e/test_imap_clients.py:
//   node imapflow_resync.mjs snapshot PORT USER PASS STATE_FILE
//     opens INBOX, writes {uidValidity, highestModseq, flags by UID} to STATE_FILE
//   node imapflow_resync.mjs resync PORT USER PASS STATE_FILE
//     re-opens INBOX with QRESYNC (the saved UIDVALIDITY and HIGHESTMODSEQ: RFC 7162
//     3.2.5) and prints, as JSON, what the server reported during the SELECT: the
//     VANISHED (EARLIER) UIDs, the changed flags by UID, plus the new UIDs above the last
//     known one and whether imapflow kept the QRESYNC state.
import { readFileSync, writeFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';

const [mode, port, user, pass, stateFile] = process.argv.slice(2);
const client = new ImapFlow({
  host: '127.0.0.1',
  port: Number(port),
  secure: false,
  doSTARTTLS: false,  // plaintext LOGIN on loopback (the daemon allows it in this test)
  auth: { user, pass },
  qresync: true,
  logger: false,
});
await client.connect();
if (!client.enabled.has('QRESYNC')) throw new Error('QRESYNC was not enabled');
if (mode === 'snapshot') {
  const mb = await client.mailboxOpen('INBOX');
  const flags = {};
  for await (const m of client.fetch('1:*', { uid: true, flags: true })) flags[m.uid] = [...m.flags].sort();
  writeFileSync(stateFile, JSON.stringify({
    uidValidity: mb.uidValidity.toString(), highestModseq: mb.highestModseq.toString(), flags,
  }));
} else {
  const st = JSON.parse(readFileSync(stateFile, 'utf8'));
  const vanished = [];
  const changed = {};
  client.on('expunge', d => { if (d.vanished && d.earlier) vanished.push(d.uid); });
  client.on('flags', d => { if (d.uid) changed[d.uid] = [...d.flags].sort(); });
  const mb = await client.mailboxOpen('INBOX', {
    changedSince: BigInt(st.highestModseq), uidValidity: BigInt(st.uidValidity),
  });
  const known = Math.max(0, ...Object.keys(st.flags).map(Number));
  const fresh = [];
  for await (const m of client.fetch(`${known + 1}:*`, { uid: true }, { uid: true })) {
    if (m.uid > known) fresh.push(m.uid);
  }
  console.log(JSON.stringify({
    qresync: Boolean(mb.qresync), vanished: vanished.sort((a, b) => a - b), changed, fresh,
    highestModseq: mb.highestModseq.toString(), exists: mb.exists,
  }));
}
await client.logout();

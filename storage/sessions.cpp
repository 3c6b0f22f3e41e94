// storage/sessions.cpp — browser sessions of web/auth persisted in the account CF so
// they survive a daemon restart: "s" + SHA-256(token) -> [str account][str csrf]
// [i64 expires]. Expired sessions are deleted when read, or by purge_sessions().
// Must never: store a session token itself (only its SHA-256: a copy of the store
// does not let anyone log in).
// SECURITY: the CSRF token is stored as is (it is useless without the cookie).
#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

std::string session_key(const Sha256& h) {
  std::string k(kSessionPrefix);
  k.append(reinterpret_cast<const char*>(h.data()), h.size());
  return k;
}

std::optional<SessionRecord> decode_session(std::string_view v) {
  Reader r(v);
  SessionRecord s;
  s.account = r.str();
  s.csrf = r.str();
  s.expires = UnixSeconds(std::chrono::seconds(r.i64()));
  if (!r.done()) return std::nullopt;
  return s;
}

}  // namespace

result<void> Store::put_session(const Sha256& token_hash, const SessionRecord& session) {
  std::string v;
  put_str(v, session.account);
  put_str(v, session.csrf);
  put_i64(v, session.expires.time_since_epoch().count());
  auto batch = impl_->kv->batch();
  batch.put(kCfAccount, session_key(token_hash), v);
  return impl_->write(batch);
}

result<std::optional<SessionRecord>> Store::get_session(const Sha256& token_hash, UnixSeconds now) {
  auto key = session_key(token_hash);
  auto v = impl_->get(kCfAccount, key);
  if (!v) return v.error();
  if (!*v) return std::optional<SessionRecord>();
  auto s = decode_session(**v);
  if (!s || s->expires <= now) {
    auto batch = impl_->kv->batch();
    batch.del(kCfAccount, key);
    (void)impl_->write(batch, /*sync=*/false);
    return std::optional<SessionRecord>();
  }
  return s;
}

result<void> Store::delete_session(const Sha256& token_hash) {
  auto batch = impl_->kv->batch();
  batch.del(kCfAccount, session_key(token_hash));
  return impl_->write(batch);
}

result<std::size_t> Store::purge_sessions(UnixSeconds now) {
  auto batch = impl_->kv->batch();
  std::size_t n = 0;
  auto it = impl_->iter(kCfAccount);
  for (it->seek(kSessionPrefix); it->valid() && it->key().starts_with(kSessionPrefix); it->next()) {
    auto s = decode_session(std::string_view(it->value().data(), it->value().size()));
    if (s && s->expires > now) continue;
    batch.del(kCfAccount, it->key());
    ++n;
  }
  if (auto ec = it->check("listing sessions")) return ec;
  if (n == 0) return n;
  auto w = impl_->write(batch, /*sync=*/false);
  if (!w) return w.error();
  return n;
}

}  // namespace refmail::storage

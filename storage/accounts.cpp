// storage/accounts.cpp — domains, users (argon2id password hashes via libsodium),
// aliases (with "@domain" catch-alls) and recipient resolution.
// Addresses are canonicalised by ASCII-lowercasing the whole address: domains are
// case-insensitive (RFC 5321 2.4) and refmail deliberately folds local parts too.
// Must never: store or log a plain password; accept a malformed address as a key.
// SECURITY: password hashing runs before any lock is taken (it is slow on purpose);
// verification uses libsodium's constant-time comparison.
#include <sodium.h>

#include <algorithm>
#include <set>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
}

// Catch-all "@domain" or a canonical address.
std::optional<std::string> canonical_alias(std::string_view address) {
  if (!address.empty() && address.front() == '@') {
    auto d = canonical_domain(address.substr(1));
    if (!d) return std::nullopt;
    return "@" + *d;
  }
  return canonical_address(address);
}

std::string address_from_key(std::string_view key_without_tag) {
  auto z = key_without_tag.find('\0');
  return std::string(key_without_tag.substr(z + 1)) + "@" +
         std::string(key_without_tag.substr(0, z));
}

std::string encode_targets(const std::vector<std::string>& t) {
  std::string v;
  put_u32(v, static_cast<std::uint32_t>(t.size()));
  for (const auto& s : t) put_str(v, s);
  return v;
}

std::optional<std::vector<std::string>> decode_targets(std::string_view v) {
  Reader r(v);
  auto n = r.u32();
  if (!r.ok() || n > v.size()) return std::nullopt;
  std::vector<std::string> t;
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) t.push_back(r.str());
  if (!r.done()) return std::nullopt;
  return t;
}

// argon2id's cost per PasswordCost. interactive: m = 9 MiB, t = 4 (one of the settings
// OWASP's password storage guide lists as equivalent to m = 19 MiB, t = 2): libsodium's
// INTERACTIVE takes 64 MiB per check, which each login (and each guess an attacker
// sends) made refmaild hold, two at a time on the password pool.
std::pair<unsigned long long, std::size_t> cost_params(PasswordCost cost) {
  switch (cost) {
    case PasswordCost::moderate:
      return {crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
    case PasswordCost::test_minimal:
      return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
    case PasswordCost::interactive: break;
  }
  return {4, std::size_t{9} << 20};
}

result<std::string> hash_password(std::string_view password, PasswordCost cost) {
  const auto [ops, mem] = cost_params(cost);
  if (password.empty()) return fail(errc::invalid_argument, "the password is empty");
  char out[crypto_pwhash_argon2id_STRBYTES];
  if (crypto_pwhash_argon2id_str(out, password.data(), password.size(), ops, mem) != 0)
    return fail(errc::io_error, "password hashing ran out of memory");
  return std::string(out);
}

}  // namespace

std::optional<std::string> canonical_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);  // FQDN dot
  if (domain.empty() || domain.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(domain.size());
  char prev = '.';
  for (char c : domain) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || u >= 0x80;  // U-labels (RFC 6531)
    if (!ok) return std::nullopt;
    if (c == '.' && prev == '.') return std::nullopt;
    out.push_back(lower(c));
    prev = c;
  }
  if (out.front() == '.' || out.back() == '.') return std::nullopt;
  return out;
}

std::optional<std::string> canonical_address(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return std::nullopt;
  auto local = address.substr(0, at);
  for (char c : local) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '@' || c == '"' || c == '\\' || c == '<' || c == '>' ||
        c == ',' || c == ';')
      return std::nullopt;
  }
  if (local.front() == '.' || local.back() == '.') return std::nullopt;
  auto dom = canonical_domain(address.substr(at + 1));
  if (!dom) return std::nullopt;
  std::string out;
  out.reserve(address.size());
  for (char c : local) out.push_back(lower(c));
  out.push_back('@');
  out += *dom;
  return out;
}

// ---- domains ----

result<void> Store::add_domain(std::string_view domain) {
  auto d = canonical_domain(domain);
  if (!d) return fail(errc::invalid_argument, "malformed domain '" + std::string(domain) + "'");
  std::unique_lock admin(impl_->local.admin_mu);
  auto v = impl_->get(kCfAccount, "d" + *d);
  if (!v) return v.error();
  if (*v) return fail(errc::exists, "domain " + *d + " already exists");
  auto batch = impl_->kv->batch();
  std::string rec;
  put_i64(rec, now_unix());
  batch.put(kCfAccount, "d" + *d, rec);
  return impl_->write(batch);
}

result<std::vector<std::string>> Store::list_domains() {
  std::vector<std::string> out;
  auto it = impl_->iter(kCfAccount);
  for (it->seek("d"); it->valid() && starts_with(it->key(), "d"); it->next())
    out.push_back(std::string(it->key()).substr(1));
  if (auto ec = it->check("listing domains")) return ec;
  return out;
}

result<bool> Store::is_local_domain(std::string_view domain) {
  auto d = canonical_domain(domain);
  if (!d) return false;
  auto v = impl_->get(kCfAccount, "d" + *d);
  if (!v) return as_error(v.error());
  return v->has_value();
}

result<void> Store::remove_domain(std::string_view domain) {
  auto d = canonical_domain(domain);
  if (!d) return fail(errc::invalid_argument, "malformed domain '" + std::string(domain) + "'");
  std::unique_lock admin(impl_->local.admin_mu);
  auto v = impl_->get(kCfAccount, "d" + *d);
  if (!v) return v.error();
  if (!*v) return fail(errc::not_found, "domain " + *d + " does not exist");
  for (const char* tag : {"u", "a"}) {
    std::string prefix = tag + *d;
    prefix.push_back('\0');
    auto it = impl_->iter(kCfAccount);
    it->seek(prefix);
    if (it->valid() && starts_with(it->key(), prefix))
      return fail(errc::not_empty, "domain " + *d + " still has " +
                                       (tag[0] == 'u' ? "users" : "aliases") +
                                       "; remove them first");
    if (auto ec = it->check("checking domain " + *d)) return ec;
  }
  auto batch = impl_->kv->batch();
  batch.del(kCfAccount, "d" + *d);
  batch.del(kCfCounter, domain_bytes_key(*d));
  batch.del(kCfCounter, domain_msgs_key(*d));
  return impl_->write(batch);
}

// ---- users ----

result<void> Store::add_user(std::string_view address, std::string_view password, bool is_admin,
                             std::uint64_t quota_bytes) {
  auto acct = canonical_address(address);
  if (!acct) return fail(errc::invalid_argument, "malformed address '" + std::string(address) + "'");
  auto hash = hash_password(password, impl_->options.password_cost);
  if (!hash) return hash.error();
  std::unique_lock admin(impl_->local.admin_mu);
  auto dom = domain_of(*acct);
  auto d = impl_->get(kCfAccount, "d" + dom);
  if (!d) return d.error();
  if (!*d) return fail(errc::not_local_domain, "domain " + dom + " is not hosted here (add it first)");
  auto existing = impl_->load_user(*acct);
  if (!existing) return existing.error();
  if (*existing) return fail(errc::exists, "user " + *acct + " already exists");
  UserRecord u;
  u.password_hash = std::move(*hash);
  u.is_admin = is_admin;
  u.quota_bytes = quota_bytes;
  u.created = now_unix();
  auto batch = impl_->kv->batch();
  batch.put(kCfAccount, user_key(*acct), encode_user(u));
  std::uint32_t max_id = 0, max_validity = 0;
  for (auto name : kSystemMailboxes) {
    MailboxMeta m;
    m.mailbox_id = impl_->allocate_mailbox_id(*acct);
    m.uidvalidity = impl_->allocate_uidvalidity();
    m.created = u.created;
    impl_->put_mailbox(batch, *acct, name, m);
    max_id = std::max(max_id, m.mailbox_id);
    max_validity = std::max(max_validity, m.uidvalidity);
  }
  batch.merge(kCfCounter, mailbox_next_key(*acct), max_operand(max_id + 1));
  batch.merge(kCfCounter, kUidValidity, max_operand(max_validity));
  return impl_->write(batch);
}

namespace {
result<UserInfo> user_info(Store::Impl& impl, const std::string& acct, const UserRecord& u) {
  UserInfo info;
  info.address = acct;
  info.is_admin = u.is_admin;
  info.quota_bytes = u.quota_bytes;
  // "$argon2id$v=19$m=9216,t=4,p=1$salt$hash": the fourth field.
  std::string_view h = u.password_hash;
  for (int field = 0; field < 2 && !h.empty(); ++field) {
    auto d = h.find('$', 1);
    h = d == std::string_view::npos ? std::string_view() : h.substr(d);
  }
  if (!h.empty()) info.password_params = std::string(h.substr(1, h.find('$', 1) - 1));
  auto b = impl.counter(account_bytes_key(acct));
  if (!b) return b.error();
  auto m = impl.counter(account_msgs_key(acct));
  if (!m) return m.error();
  info.used_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *b));
  info.messages = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *m));
  return info;
}
}  // namespace

result<UserInfo> Store::get_user(std::string_view address) {
  auto acct = canonical_address(address);
  if (!acct) return fail(errc::invalid_argument, "malformed address '" + std::string(address) + "'");
  auto u = impl_->load_user(*acct);
  if (!u) return u.error();
  if (!*u) return fail(errc::not_found, "user " + *acct + " does not exist");
  return user_info(*impl_, *acct, **u);
}

result<std::vector<UserInfo>> Store::list_users(std::string_view domain) {
  std::string prefix = "u";
  if (!domain.empty()) {
    auto d = canonical_domain(domain);
    if (!d) return fail(errc::invalid_argument, "malformed domain '" + std::string(domain) + "'");
    prefix += *d;
    prefix.push_back('\0');
  }
  std::vector<UserInfo> out;
  auto it = impl_->iter(kCfAccount);
  for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
    auto key = std::string(it->key());
    auto acct = address_from_key(std::string_view(key).substr(1));
    auto u = decode_user(std::string_view(it->value().data(), it->value().size()));
    if (!u) return fail(errc::corrupt, "user record of " + acct + " is corrupt");
    auto info = user_info(*impl_, acct, *u);
    if (!info) return info.error();
    out.push_back(std::move(*info));
  }
  if (auto ec = it->check("listing users")) return ec;
  return out;
}

namespace {

constexpr std::chrono::seconds kVerifiedFor{60};
constexpr std::size_t kVerifiedMax = 10000;

std::string verified_memo(Store::Impl& impl, std::string_view account, std::string_view password,
                          std::string_view stored_hash) {
  std::call_once(impl.verified_key_once, [&] { randombytes_buf(impl.verified_key.data(), impl.verified_key.size()); });
  unsigned char out[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, impl.verified_key.data(), impl.verified_key.size(), sizeof out);
  const unsigned char sep = 0;
  for (std::string_view part : {account, password, stored_hash}) {
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(part.data()), part.size());
    crypto_generichash_update(&st, &sep, 1);
  }
  crypto_generichash_final(&st, out, sizeof out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

}  // namespace

namespace {
result<void> rehash_password(Store::Impl& impl, const std::string& acct, const std::string& old_hash,
                             std::string_view password);
}  // namespace

result<std::string> Store::verify_password(std::string_view address, std::string_view password) {
  auto acct = canonical_address(address);
  if (!acct) return fail(errc::bad_password, "authentication failed");
  auto u = impl_->load_user(*acct);
  if (!u) return u.error();
  if (!*u) {
    std::call_once(impl_->dummy_hash_once, [&] {
      auto h = hash_password("refmail-dummy-password", impl_->options.password_cost);
      if (h) impl_->dummy_hash = std::move(*h);
    });
    if (!impl_->dummy_hash.empty()) {
      [[maybe_unused]] int ignored = crypto_pwhash_argon2id_str_verify(
          impl_->dummy_hash.c_str(), password.data(), password.size());
    }
    return fail(errc::bad_password, "authentication failed for " + *acct);
  }
  // A client that logs in for every message (submission scripts, phones) pays argon2id
  // once per kVerifiedFor, not per login. Only a keyed hash of the
  // password is kept, and it names the stored hash too, so a new password (or a removed
  // user) never matches an old entry.
  const std::string memo = verified_memo(*impl_, *acct, password, (*u)->password_hash);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(impl_->verified_mu);
    auto it = impl_->verified.find(memo);
    if (it != impl_->verified.end()) {
      if (it->second > now) return *acct;
      impl_->verified.erase(it);
    }
  }
  if (crypto_pwhash_argon2id_str_verify((*u)->password_hash.c_str(), password.data(),
                                        password.size()) != 0)
    return fail(errc::bad_password, "authentication failed for " + *acct);
  const auto [ops, mem] = cost_params(impl_->options.password_cost);
  if (crypto_pwhash_argon2id_str_needs_rehash((*u)->password_hash.c_str(), ops, mem) == 1) {
    // Made with other parameters (an older default): replaced now that the password is
    // known. Best effort: the login succeeds whatever happens here.
    (void)rehash_password(*impl_, *acct, (*u)->password_hash, password);
  }
  std::lock_guard lock(impl_->verified_mu);
  if (impl_->verified.size() >= kVerifiedMax) {
    std::erase_if(impl_->verified, [&](const auto& kv) { return kv.second <= now; });
    if (impl_->verified.size() >= kVerifiedMax) impl_->verified.clear();
  }
  impl_->verified[memo] = now + kVerifiedFor;
  return *acct;
}

namespace {
// Read-modify-write of a user record under the exclusive admin lock.
template <class F>
result<void> update_user(Store::Impl& impl, std::string_view address, F&& change) {
  auto acct = canonical_address(address);
  if (!acct) return fail(errc::invalid_argument, "malformed address '" + std::string(address) + "'");
  std::unique_lock admin(impl.local.admin_mu);
  auto u = impl.load_user(*acct);
  if (!u) return u.error();
  if (!*u) return fail(errc::not_found, "user " + *acct + " does not exist");
  change(**u);
  auto batch = impl.kv->batch();
  batch.put(kCfAccount, user_key(*acct), encode_user(**u));
  return impl.write(batch);
}

result<void> rehash_password(Store::Impl& impl, const std::string& acct, const std::string& old_hash,
                             std::string_view password) {
  auto hash = hash_password(password, impl.options.password_cost);
  if (!hash) return hash.error();
  // Only over the hash that was verified: a password changed meanwhile stays.
  return update_user(impl, acct, [&](UserRecord& u) {
    if (u.password_hash == old_hash) u.password_hash = std::move(*hash);
  });
}
}  // namespace

result<void> Store::set_password(std::string_view address, std::string_view password) {
  auto hash = hash_password(password, impl_->options.password_cost);
  if (!hash) return hash.error();
  return update_user(*impl_, address, [&](UserRecord& u) { u.password_hash = std::move(*hash); });
}

result<void> Store::set_quota(std::string_view address, std::uint64_t quota_bytes) {
  return update_user(*impl_, address, [&](UserRecord& u) { u.quota_bytes = quota_bytes; });
}

result<void> Store::set_admin(std::string_view address, bool is_admin) {
  return update_user(*impl_, address, [&](UserRecord& u) { u.is_admin = is_admin; });
}

result<void> Store::remove_user(std::string_view address) {
  auto acct = canonical_address(address);
  if (!acct) return fail(errc::invalid_argument, "malformed address '" + std::string(address) + "'");
  std::unique_lock admin(impl_->local.admin_mu);
  auto u = impl_->load_user(*acct);
  if (!u) return u.error();
  if (!*u) return fail(errc::not_found, "user " + *acct + " does not exist");
  // Every mailbox: expunge its rows (messages and blobs reaching zero are collected).
  std::vector<std::pair<std::string, std::uint32_t>> boxes;
  {
    std::string prefix = "N" + *acct;
    prefix.push_back('\0');
    auto it = impl_->iter(kCfMailbox);
    for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
      Reader r(std::string_view(it->value().data(), it->value().size()));
      boxes.emplace_back(std::string(it->key()), r.u32());
    }
    if (auto ec = it->check("listing mailboxes")) return ec;
  }
  for (const auto& [key, id] : boxes) {
    auto r = impl_->expunge_mailbox_rows(*acct, id);
    if (!r) return r;
  }
  {
    std::vector<std::string> uploads, gc;
    std::string prefix = "U" + *acct;
    prefix.push_back('\0');
    auto it = impl_->iter(kCfMailbox);
    for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next())
      uploads.push_back(std::string(it->key()));
    if (auto ec = it->check("listing uploads")) return ec;
    for (const auto& key : uploads) {
      auto r = impl_->release_upload_key(key, &gc);
      if (!r && r.error() != errc::not_found) return r;
    }
    impl_->gc_blobs(gc);
  }
  auto batch = impl_->kv->batch();
  for (const auto& [key, id] : boxes) batch.del(kCfMailbox, key);
  // Grants are all zero now; drop the keys. UID and mailbox-id high-water marks stay,
  // so a re-created account never reuses a UID.
  {
    std::string prefix = *acct;
    prefix.push_back('\0');
    auto it = impl_->iter(kCfGrant);
    for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next())
      batch.del(kCfGrant, it->key());
    if (auto ec = it->check("listing grants")) return ec;
  }
  batch.del(kCfCounter, account_bytes_key(*acct));
  batch.del(kCfCounter, account_msgs_key(*acct));
  batch.del(kCfCounter, account_upload_bytes_key(*acct));
  {
    // The mailbox counters (zero now that the rows are gone).
    const auto prefix = mailbox_count_prefix(*acct);
    auto it = impl_->iter(kCfCounter);
    for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next())
      batch.del(kCfCounter, it->key());
    if (auto ec = it->check("listing mailbox counters")) return ec;
  }
  // The change log and thread index go; the floor rises to the current state.
  impl_->drop_account_log(batch, *acct);
  // Its browser sessions go too (few keys: scanned).
  {
    auto it = impl_->iter(kCfAccount);
    for (it->seek(kSessionPrefix); it->valid() && starts_with(it->key(), kSessionPrefix); it->next()) {
      Reader r(std::string_view(it->value().data(), it->value().size()));
      if (r.str() == *acct) batch.del(kCfAccount, it->key());
    }
    if (auto ec = it->check("listing sessions")) return ec;
  }
  // Its Sieve scripts, the active copy, memos and vacation settings (sieve.cpp; writers
  // wait on admin_mu).
  {
    const auto prefix = sieve_prefix(*acct);
    auto it = impl_->iter(kCfAccount);
    for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) batch.del(kCfAccount, it->key());
    if (auto ec = it->check("listing Sieve scripts")) return ec;
    batch.del(kCfAccount, sieve_active_key(*acct));
    batch.del(kCfAccount, vacation_key(*acct));
    const auto memo = sieve_memo_prefix(*acct);
    auto mt = impl_->iter(kCfAccount);
    for (mt->seek(memo); mt->valid() && starts_with(mt->key(), memo); mt->next()) batch.del(kCfAccount, mt->key());
    if (auto ec = mt->check("listing Sieve memos")) return ec;
  }
  // The state key stays: a re-created account must never repeat an old state.
  batch.del(kCfAccount, user_key(*acct));
  return impl_->write(batch);
}

// ---- aliases ----

result<void> Store::add_alias(std::string_view address, std::vector<std::string> targets) {
  auto a = canonical_alias(address);
  if (!a) return fail(errc::invalid_argument, "malformed alias '" + std::string(address) + "'");
  if (targets.empty()) return fail(errc::invalid_argument, "alias " + *a + " has no targets");
  std::set<std::string> canon;
  for (const auto& t : targets) {
    auto c = canonical_address(t);
    if (!c) return fail(errc::invalid_argument, "malformed alias target '" + t + "'");
    canon.insert(*c);
  }
  std::unique_lock admin(impl_->local.admin_mu);
  auto dom = domain_of(*a);
  auto d = impl_->get(kCfAccount, "d" + dom);
  if (!d) return d.error();
  if (!*d) return fail(errc::not_local_domain, "domain " + dom + " is not hosted here");
  auto existing = impl_->get(kCfAccount, alias_key(*a));
  if (!existing) return existing.error();
  if (*existing) return fail(errc::exists, "alias " + *a + " already exists");
  auto batch = impl_->kv->batch();
  batch.put(kCfAccount, alias_key(*a),
            encode_targets(std::vector<std::string>(canon.begin(), canon.end())));
  return impl_->write(batch);
}

result<std::vector<AliasInfo>> Store::list_aliases(std::string_view domain) {
  std::string prefix = "a";
  if (!domain.empty()) {
    auto d = canonical_domain(domain);
    if (!d) return fail(errc::invalid_argument, "malformed domain '" + std::string(domain) + "'");
    prefix += *d;
    prefix.push_back('\0');
  }
  std::vector<AliasInfo> out;
  auto it = impl_->iter(kCfAccount);
  for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
    auto key = std::string(it->key());
    AliasInfo info;
    info.address = address_from_key(std::string_view(key).substr(1));
    auto t = decode_targets(std::string_view(it->value().data(), it->value().size()));
    if (!t) return fail(errc::corrupt, "alias record of " + info.address + " is corrupt");
    info.targets = std::move(*t);
    out.push_back(std::move(info));
  }
  if (auto ec = it->check("listing aliases")) return ec;
  return out;
}

result<void> Store::remove_alias(std::string_view address) {
  auto a = canonical_alias(address);
  if (!a) return fail(errc::invalid_argument, "malformed alias '" + std::string(address) + "'");
  std::unique_lock admin(impl_->local.admin_mu);
  auto existing = impl_->get(kCfAccount, alias_key(*a));
  if (!existing) return existing.error();
  if (!*existing) return fail(errc::not_found, "alias " + *a + " does not exist");
  auto batch = impl_->kv->batch();
  batch.del(kCfAccount, alias_key(*a));
  return impl_->write(batch);
}

result<Resolution> Store::resolve_recipient(std::string_view address) {
  auto acct = canonical_address(address);
  if (!acct) return fail(errc::invalid_argument, "malformed address '" + std::string(address) + "'");
  auto local = is_local_domain(domain_of(*acct));
  if (!local) return local.error();
  if (!*local) return fail(errc::not_local_domain, "domain " + domain_of(*acct) + " is not local");

  std::set<std::string> accounts, foreign, seen;
  // Depth-first expansion; `seen` stops alias loops, depth bounds long chains.
  std::function<result<bool>(const std::string&, int)> expand =
      [&](const std::string& a, int depth) -> result<bool> {
    if (depth > 8 || !seen.insert(a).second) return false;
    auto dom = domain_of(a);
    auto is_local = is_local_domain(dom);
    if (!is_local) return as_error(is_local.error());
    if (!*is_local) {
      foreign.insert(a);
      return true;
    }
    auto u = impl_->load_user(a);
    if (!u) return as_error(u.error());
    if (*u) {
      accounts.insert(a);
      return true;
    }
    auto v = impl_->get(kCfAccount, alias_key(a));
    if (!v) return as_error(v.error());
    if (!*v) v = impl_->get(kCfAccount, alias_key("@" + dom));  // catch-all
    if (!v) return as_error(v.error());
    if (!*v) return false;
    auto targets = decode_targets(**v);
    if (!targets) return as_error(fail(errc::corrupt, "alias record of " + a + " is corrupt"));
    bool any = false;
    for (const auto& t : *targets) {
      auto r = expand(t, depth + 1);
      if (!r) return as_error(r.error());
      any = any || *r;
    }
    return any;
  };
  auto r = expand(*acct, 0);
  if (!r) return r.error();
  if (!*r) return fail(errc::not_found, "no such user here: " + *acct);
  Resolution res;
  res.accounts.assign(accounts.begin(), accounts.end());
  res.foreign.assign(foreign.begin(), foreign.end());
  return res;
}

}  // namespace refmail::storage

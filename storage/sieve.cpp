// storage/sieve.cpp — per-account Sieve scripts (RFC 5228) for ManageSieve (RFC 5804)
// and delivery: named scripts in the account CF, at most one active, the active one
// copied under its own key so delivery reads it with one point read (sieve_active).
// Also the account's vacation reply settings (JMAP VacationResponse), read by delivery.
// Must never: let the active copy and the script row disagree (both change in one
// batch, under LocalState::sieve_mu), or store a script of a removed account.
// SECURITY: names are bounded and checked (valid_sieve_name); script bytes are opaque
// here and bounded by SieveLimits; the caller (ManageSieve) compiles them first.
#include <random>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

constexpr std::uint8_t kFormat = 1;
// Script rows since JMAP for Sieve (RFC 9661): [u8 2][str id][content]. The id is made
// once when the name is first stored and kept by replacement and rename (a JMAP id is
// immutable). Rows of format 1 ([u8 1][content]) read with legacy_id(name) and are
// rewritten as format 2 by the next put or rename.
constexpr std::uint8_t kFormatWithId = 2;
constexpr std::size_t kMaxNameChars = 128;

struct ScriptRow {
  std::string id;
  std::string_view content;
};

std::string legacy_id(std::string_view name) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64: stable across builds
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  static const char* digits = "0123456789abcdef";
  std::string id = "L";
  for (int i = 15; i >= 0; --i) id.push_back(digits[(h >> (4 * i)) & 15]);
  return id;
}

std::string new_id() {
  std::random_device rd;  // getrandom(2) on Linux
  const std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd();
  static const char* digits = "0123456789abcdef";
  std::string id = "S";
  for (int i = 15; i >= 0; --i) id.push_back(digits[(v >> (4 * i)) & 15]);
  return id;
}

std::string encode_script(std::string_view id, std::string_view content) {
  std::string v(1, static_cast<char>(kFormatWithId));
  put_str(v, id);
  v.append(content);
  return v;
}
std::optional<ScriptRow> decode_script(std::string_view v, std::string_view name) {
  if (v.empty()) return std::nullopt;
  if (static_cast<std::uint8_t>(v[0]) == kFormat) return ScriptRow{legacy_id(name), v.substr(1)};
  if (static_cast<std::uint8_t>(v[0]) != kFormatWithId) return std::nullopt;
  Reader r(v.substr(1));
  const auto n = r.u32();
  auto id = r.bytes(n);
  if (!r.ok() || id.empty()) return std::nullopt;
  return ScriptRow{std::string(id), v.substr(1 + 4 + n)};
}
std::string encode_active(std::string_view name, std::string_view content) {
  std::string v(1, static_cast<char>(kFormat));
  put_str(v, name);
  v.append(content);
  return v;
}
std::optional<SieveScript> decode_active(std::string_view v) {
  if (v.empty() || static_cast<std::uint8_t>(v[0]) != kFormat) return std::nullopt;
  Reader r(v.substr(1));
  const auto n = r.u32();
  auto name = r.bytes(n);
  if (!r.ok() || name.empty()) return std::nullopt;
  return SieveScript{std::string(name), std::string(v.substr(1 + 4 + n))};
}

}  // namespace

bool valid_sieve_name(std::string_view name) noexcept {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      len = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      len = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > name.size()) return false;
    for (std::size_t j = 1; j < len; ++j) {
      const auto cc = static_cast<unsigned char>(name[i + j]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Shortest form only, no surrogates, nothing above U+10FFFF (RFC 3629).
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    // RFC 5804 1.6: no control characters (0000-001F, 007F-009F), no line or paragraph
    // separators (2028, 2029); '/' is refused so names can map to paths (refmailctl).
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == '/') return false;
    i += len;
    if (++chars > kMaxNameChars) return false;
  }
  return chars > 0;
}

namespace {

// The account in canonical form, or invalid_argument.
result<std::string> sieve_account(std::string_view account) {
  auto a = canonical_address(account);
  if (!a) return fail(errc::invalid_argument, "malformed address '" + std::string(account) + "'");
  return *a;
}

result<void> check_name(std::string_view name) {
  if (!valid_sieve_name(name)) return fail(errc::invalid_argument, "invalid Sieve script name");
  return {};
}

result<void> require_user(Store::Impl& impl, const std::string& account) {
  auto u = impl.load_user(account);
  if (!u) return u.error();
  if (!*u) return fail(errc::not_found, "user " + account + " does not exist");
  return {};
}

// The number of the account's scripts and whether `name` is one of them.
result<std::pair<std::size_t, bool>> count_scripts(Store::Impl& impl, const std::string& account,
                                                   std::string_view name) {
  const auto prefix = sieve_prefix(account);
  std::size_t n = 0;
  bool found = false;
  auto it = impl.iter(kCfAccount);
  for (it->seek(prefix); it->valid() && it->key().starts_with(prefix); it->next()) {
    ++n;
    if (it->key().substr(prefix.size()) == name) found = true;
  }
  if (auto ec = it->check("listing Sieve scripts")) return ec;
  return std::pair{n, found};
}

result<void> check_space(Store::Impl& impl, const std::string& account, std::string_view name,
                         std::uint64_t size, const SieveLimits& limits) {
  if (size > limits.max_script_bytes) {
    return fail(errc::too_large, "Sieve script of " + std::to_string(size) + " bytes is over the limit of " +
                                     std::to_string(limits.max_script_bytes));
  }
  auto c = count_scripts(impl, account, name);
  if (!c) return c.error();
  if (!c->second && c->first >= limits.max_scripts) {
    return fail(errc::quota_exceeded, account + " already has " + std::to_string(c->first) + " Sieve scripts");
  }
  return {};
}

result<std::optional<SieveScript>> read_active(Store::Impl& impl, const std::string& account) {
  auto v = impl.get(kCfAccount, sieve_active_key(account));
  if (!v) return v.error();
  if (!*v) return std::optional<SieveScript>();
  auto s = decode_active(**v);
  if (!s) return fail(errc::corrupt, "active Sieve script of " + account + " is corrupt");
  return std::optional<SieveScript>(std::move(*s));
}

}  // namespace

result<std::vector<SieveScriptInfo>> Store::sieve_list(std::string_view account) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  auto active = read_active(*impl_, *a);
  if (!active) return active.error();
  std::vector<SieveScriptInfo> out;
  const auto prefix = sieve_prefix(*a);
  auto it = impl_->iter(kCfAccount);
  for (it->seek(prefix); it->valid() && it->key().starts_with(prefix); it->next()) {
    SieveScriptInfo info;
    info.name = std::string(it->key().substr(prefix.size()));
    auto row = decode_script(it->value(), info.name);
    if (!row) return fail(errc::corrupt, "Sieve script of " + *a + " is corrupt");
    info.id = std::move(row->id);
    info.size_bytes = row->content.size();
    info.active = *active && (*active)->name == info.name;
    out.push_back(std::move(info));
  }
  if (auto ec = it->check("listing Sieve scripts")) return ec;
  return out;
}

result<std::optional<std::string>> Store::sieve_get(std::string_view account, std::string_view name) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  if (!valid_sieve_name(name)) return std::optional<std::string>();
  auto v = impl_->get(kCfAccount, sieve_key(*a, name));
  if (!v) return v.error();
  if (!*v) return std::optional<std::string>();
  auto row = decode_script(**v, name);
  if (!row) return fail(errc::corrupt, "Sieve script of " + *a + " is corrupt");
  return std::optional<std::string>(std::string(row->content));
}

result<void> Store::sieve_check_space(std::string_view account, std::string_view name, std::uint64_t size_bytes,
                                      const SieveLimits& limits) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  if (auto r = check_name(name); !r) return r;
  return check_space(*impl_, *a, name, size_bytes, limits);
}

result<void> Store::sieve_put(std::string_view account, std::string_view name, std::string_view content,
                              const SieveLimits& limits) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  if (auto r = check_name(name); !r) return r;
  std::shared_lock admin(impl_->local.admin_mu);  // not while remove_user runs
  std::lock_guard lock(impl_->local.sieve_mu);
  if (auto r = require_user(*impl_, *a); !r) return r;
  if (auto r = check_space(*impl_, *a, name, content.size(), limits); !r) return r;
  auto active = read_active(*impl_, *a);
  if (!active) return active.error();
  auto old = impl_->get(kCfAccount, sieve_key(*a, name));
  if (!old) return old.error();
  std::string id;  // a replaced script keeps its id
  if (*old) {
    auto row = decode_script(**old, name);
    if (!row) return fail(errc::corrupt, "Sieve script of " + *a + " is corrupt");
    id = std::move(row->id);
  } else {
    id = new_id();
  }
  auto batch = impl_->kv->batch();
  batch.put(kCfAccount, sieve_key(*a, name), encode_script(id, content));
  if (*active && (*active)->name == name) batch.put(kCfAccount, sieve_active_key(*a), encode_active(name, content));
  return impl_->write(batch);
}

result<void> Store::sieve_delete(std::string_view account, std::string_view name) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  std::shared_lock admin(impl_->local.admin_mu);
  std::lock_guard lock(impl_->local.sieve_mu);
  const auto key = sieve_key(*a, name);
  auto v = impl_->get(kCfAccount, key);
  if (!v) return v.error();
  if (!*v || !valid_sieve_name(name)) return fail(errc::not_found, "no Sieve script of that name");
  auto active = read_active(*impl_, *a);
  if (!active) return active.error();
  if (*active && (*active)->name == name) return fail(errc::in_use, "the Sieve script is active");
  auto batch = impl_->kv->batch();
  batch.del(kCfAccount, key);
  return impl_->write(batch);
}

result<void> Store::sieve_rename(std::string_view account, std::string_view from, std::string_view to) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  if (auto r = check_name(to); !r) return r;
  std::shared_lock admin(impl_->local.admin_mu);
  std::lock_guard lock(impl_->local.sieve_mu);
  const auto from_key = sieve_key(*a, from);
  auto v = impl_->get(kCfAccount, from_key);
  if (!v) return v.error();
  if (!*v || !valid_sieve_name(from)) return fail(errc::not_found, "no Sieve script of that name");
  if (from == to) return {};
  const auto to_key = sieve_key(*a, to);
  auto taken = impl_->get(kCfAccount, to_key);
  if (!taken) return taken.error();
  if (*taken) return fail(errc::exists, "a Sieve script of that name exists");
  auto row = decode_script(**v, from);
  if (!row) return fail(errc::corrupt, "Sieve script of " + *a + " is corrupt");
  auto active = read_active(*impl_, *a);
  if (!active) return active.error();
  auto batch = impl_->kv->batch();
  batch.put(kCfAccount, to_key, encode_script(row->id, row->content));  // the id moves with it
  batch.del(kCfAccount, from_key);
  if (*active && (*active)->name == from) {
    batch.put(kCfAccount, sieve_active_key(*a), encode_active(to, row->content));
  }
  return impl_->write(batch);
}

result<void> Store::sieve_activate(std::string_view account, std::string_view name) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  std::shared_lock admin(impl_->local.admin_mu);
  std::lock_guard lock(impl_->local.sieve_mu);
  auto batch = impl_->kv->batch();
  if (name.empty()) {
    batch.del(kCfAccount, sieve_active_key(*a));  // RFC 5804 2.8: "" deactivates; none active is fine
    return impl_->write(batch);
  }
  auto v = impl_->get(kCfAccount, sieve_key(*a, name));
  if (!v) return v.error();
  if (!*v || !valid_sieve_name(name)) return fail(errc::not_found, "no Sieve script of that name");
  auto row = decode_script(**v, name);
  if (!row) return fail(errc::corrupt, "Sieve script of " + *a + " is corrupt");
  batch.put(kCfAccount, sieve_active_key(*a), encode_active(name, row->content));
  return impl_->write(batch);
}

result<std::optional<SieveScript>> Store::sieve_active(std::string_view account) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  return read_active(*impl_, *a);
}

result<bool> Store::sieve_remember(std::string_view account, std::string_view key, std::int64_t now,
                                   std::int64_t until) {
  // result<bool> is not made from an error_code implicitly (bool would take it).
  auto err = [](boost::system::error_code ec) { return result<bool>(boost::system::in_place_error, ec); };
  auto a = sieve_account(account);
  if (!a) return err(a.error());
  if (key.empty() || key.size() > 256) return err(fail(errc::invalid_argument, "bad memo key"));
  std::shared_lock admin(impl_->local.admin_mu);
  std::lock_guard lock(impl_->local.sieve_mu);
  if (auto u = require_user(*impl_, *a); !u) return err(u.error());
  std::string k = sieve_memo_prefix(*a);
  k.append(key);
  auto v = impl_->get(kCfAccount, k);
  if (!v) return err(v.error());
  if (*v && (*v)->size() >= 8 && decode_i64(**v) > now) return false;
  auto batch = impl_->kv->batch();
  batch.put(kCfAccount, k, encode_i64(until));
  auto w = impl_->write(batch);
  if (!w) return err(w.error());
  return true;
}

namespace {

constexpr std::uint8_t kVacationFormat = 1;
enum : std::uint8_t { kHasFrom = 1, kHasTo = 2, kHasSubject = 4, kHasText = 8, kHasHtml = 16 };

std::string encode_vacation(const VacationSettings& v) {
  std::string out(1, static_cast<char>(kVacationFormat));
  out.push_back(static_cast<char>(v.enabled ? 1 : 0));
  std::uint8_t has = (v.from_date ? kHasFrom : 0) | (v.to_date ? kHasTo : 0) | (v.subject ? kHasSubject : 0) |
                     (v.text_body ? kHasText : 0) | (v.html_body ? kHasHtml : 0);
  out.push_back(static_cast<char>(has));
  put_i64(out, v.from_date.value_or(0));
  put_i64(out, v.to_date.value_or(0));
  put_str(out, v.subject.value_or(""));
  put_str(out, v.text_body.value_or(""));
  put_str(out, v.html_body.value_or(""));
  put_u64(out, v.version);
  return out;
}

std::optional<VacationSettings> decode_vacation(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kVacationFormat) return std::nullopt;
  VacationSettings v;
  v.enabled = r.u8() != 0;
  const auto has = r.u8();
  const auto from = r.i64(), to = r.i64();
  auto subject = r.str(), text = r.str(), html = r.str();
  v.version = r.u64();
  if (!r.done()) return std::nullopt;
  if (has & kHasFrom) v.from_date = from;
  if (has & kHasTo) v.to_date = to;
  if (has & kHasSubject) v.subject = std::move(subject);
  if (has & kHasText) v.text_body = std::move(text);
  if (has & kHasHtml) v.html_body = std::move(html);
  return v;
}

}  // namespace

result<VacationSettings> Store::vacation_get(std::string_view account) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  auto v = impl_->get(kCfAccount, vacation_key(*a));
  if (!v) return v.error();
  if (!*v) return VacationSettings{};
  auto d = decode_vacation(**v);
  if (!d) return fail(errc::corrupt, "vacation settings of " + *a + " are corrupt");
  return *d;
}

result<std::uint64_t> Store::vacation_set(std::string_view account, const VacationSettings& settings) {
  auto a = sieve_account(account);
  if (!a) return a.error();
  std::shared_lock admin(impl_->local.admin_mu);
  std::lock_guard lock(impl_->local.sieve_mu);
  if (auto u = require_user(*impl_, *a); !u) return u.error();
  auto old = vacation_get(*a);
  if (!old) return old.error();
  VacationSettings next = settings;
  next.version = old->version + 1;
  auto batch = impl_->kv->batch();
  batch.put(kCfAccount, vacation_key(*a), encode_vacation(next));
  if (auto w = impl_->write(batch); !w) return w.error();
  return next.version;
}

}  // namespace refmail::storage

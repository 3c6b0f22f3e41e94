// server/relay_message.cpp — see relay_message.hpp.
#include "server/relay_message.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <boost/json.hpp>

#include "mime/headers.hpp"
#include "server/ingest.hpp"

namespace refmail::server::relay_detail {
namespace {

namespace json = boost::json;

// Any byte >= 0x80 (8 bytes at a time; the compiler vectorises the loop).
bool has_eight_bit(std::string_view s) {
  std::uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    acc |= w;
  }
  for (; i < s.size(); ++i) acc |= static_cast<unsigned char>(s[i]);
  return (acc & 0x8080808080808080ULL) != 0;
}

}  // namespace

storage::UnixSeconds now_seconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : lower(std::string(address.substr(at + 1)));
}

std::uint64_t random64() {
  std::uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) std::abort();
  return v;
}


std::optional<QueuedEnvelope> parse_envelope(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  QueuedEnvelope e;
  auto str = [&](std::string_view k, std::string& out) {
    if (auto* p = o.if_contains(k); p && p->is_string()) out = std::string(p->as_string());
  };
  str("mail_from", e.mail_from);
  str("envid", e.envid);
  str("ret", e.ret);
  if (auto* p = o.if_contains("smtputf8"); p && p->is_bool()) e.smtputf8 = p->as_bool();
  if (auto* p = o.if_contains("warned"); p && p->is_bool()) e.warned = p->as_bool();
  if (auto* d = o.if_contains("dsn"); d && d->is_object()) {
    for (const auto& [k, v] : d->as_object()) {
      if (!v.is_object()) continue;
      unsigned n = 0;
      if (auto* x = v.as_object().if_contains("notify"); x && (x->is_uint64() || x->is_int64())) {
        n = static_cast<unsigned>(x->to_number<std::uint64_t>() & 15);
      }
      std::string orcpt;
      if (auto* x = v.as_object().if_contains("orcpt"); x && x->is_string()) orcpt = std::string(x->as_string());
      e.dsn[std::string(k)] = {n, orcpt};
    }
  }
  auto* r = o.if_contains("rcpt_to");
  if (!r || !r->is_array()) return std::nullopt;
  for (const auto& x : r->as_array()) {
    if (!x.is_string()) return std::nullopt;
    e.rcpt_to.emplace_back(x.as_string());
  }
  if (e.rcpt_to.empty()) return std::nullopt;
  return e;
}

std::string serialize_envelope(const QueuedEnvelope& e) {
  json::array to;
  for (const auto& r : e.rcpt_to) to.emplace_back(r);
  json::object o{{"mail_from", e.mail_from}, {"rcpt_to", to}, {"smtputf8", e.smtputf8}};
  if (!e.envid.empty()) o["envid"] = e.envid;
  if (!e.ret.empty()) o["ret"] = e.ret;
  if (e.warned) o["warned"] = true;
  json::object dsn;
  for (const auto& r : e.rcpt_to) {
    auto it = e.dsn.find(r);
    if (it == e.dsn.end()) continue;
    json::object p{{"notify", it->second.first}};
    if (!it->second.second.empty()) p["orcpt"] = it->second.second;
    dsn[r] = std::move(p);
  }
  if (!dsn.empty()) o["dsn"] = std::move(dsn);
  return json::serialize(o);
}

std::optional<smtp::Address> parse_address(const std::string& s, smtp::PathKind kind) {
  std::string path = "<" + s + ">";
  auto p = smtp::parse_path(path, kind);
  if (!p || !p->rest.empty()) return std::nullopt;
  return p->address;
}



// Blocking.
Loaded load_message(storage::Store& store, const std::string& message_id, std::string prefix) {
  Loaded l;
  auto m = store.get_message(message_id);
  if (!m) {
    l.error = "cannot read message " + message_id + ": " + storage::error_detail(m.error());
    return l;
  }
  l.created = m->created.time_since_epoch().count();
  auto sk = mime::Skeleton::parse(m->record.skeleton);
  if (!sk) {
    l.error = "message " + message_id + " has a corrupt skeleton";
    return l;
  }
  const std::uint64_t total = sk->joined_size();
  if (total > (std::uint64_t{1} << 40)) {
    l.error = "message " + message_id + " has a corrupt skeleton (size)";
    return l;
  }
  // Headers are never cut out (cuts are part bodies): the skeleton starts with them.
  l.headers = mime::header_section(sk->bytes);
  // BODY=8BITMIME (RFC 6152) when the literal text has 8-bit bytes or an identity cut
  // may (base64 and quoted-printable cuts are 7-bit); declaring it for 7-bit content
  // is allowed, leaving it out for 8-bit content is not.
  l.eight_bit = has_eight_bit(sk->bytes);
  for (const auto& c : sk->cuts) l.eight_bit = l.eight_bit || c.encoding == mime::CutEncoding::Identity;
  l.content.size = prefix.size() + total;
  l.content.prefix = std::move(prefix);
  l.content.skeleton = std::make_shared<const mime::Skeleton>(std::move(*sk));
  return l;
}

bool StreamJob::next() {
  piece_.clear();
  if (!raw_) raw_.reset(new char[kStreamChunk]);  // uninitialised: only what is joined is touched
  std::size_t n = 0;
  if (prefix_pos_ < content_.prefix.size()) {
    n = std::min(kStreamChunk, content_.prefix.size() - prefix_pos_);
    std::memcpy(raw_.get(), content_.prefix.data() + prefix_pos_, n);
    prefix_pos_ += n;
  }
  while (n < kStreamChunk) {
    auto r = joiner_.read(std::span<char>(raw_.get() + n, kStreamChunk - n));
    if (!r) {
      error_ = "cannot rebuild the message: " + r.error().message();
      return false;
    }
    if (*r == 0) break;
    n += *r;
  }
  produced_ += n;
  if (produced_ > content_.size) {
    error_ = "cannot rebuild the message: longer than its skeleton says";
    return false;
  }
  done_ = n < kStreamChunk || produced_ == content_.size;
  if (done_ && produced_ != content_.size) {
    error_ = "cannot rebuild the message: shorter than its skeleton says";
    return false;
  }
  raw_len_ = n;
  if (stuff_) {
    if (piece_.capacity() == 0) piece_.reserve(kStreamChunk + kStreamChunk / 16);
    stuffer_.feed(std::string_view(raw_.get(), n), piece_);
    if (done_) stuffer_.finish(piece_);
  }
  return true;
}

std::string subject_of(std::string_view headers) {
  std::size_t pos = 0;
  while (pos < headers.size()) {
    auto nl = headers.find('\n', pos);
    auto line = headers.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.size() >= 8 && lower(std::string(line.substr(0, 8))) == "subject:") {
      auto v = line.substr(8);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.remove_suffix(1);
      return std::string(v);
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return {};
}

// A bounce (or delay warning) into the local sender's INBOX, through the normal
// ingest (split, summary, one durable commit). Blocking. Returns a log detail.
std::string send_report(storage::Store& store, const config::Config& cfg, const QueuedEnvelope& env,
                        const std::string& message_bytes, std::int64_t arrival,
                        std::vector<mime::DsnRecipient> rcpts) {
  if (env.mail_from.empty()) return "null sender: no report (RFC 5321 4.5.5)";
  auto res = store.resolve_recipient(lower(env.mail_from));
  if (!res || res->accounts.empty()) return "sender " + env.mail_from + " is not local: no report";
  mime::DsnInput in;
  in.reporting_mta = cfg.hostname;
  in.to = env.mail_from;
  in.original_envid = env.envid;
  in.arrival_date = arrival;
  in.date = std::time(nullptr);
  in.original_headers = mime::header_section(message_bytes);
  in.original_subject = subject_of(in.original_headers);
  in.recipients = std::move(rcpts);
  in.random_seed = random64();
  IngestRequest req;
  req.envelope.ehlo_domain = cfg.hostname;
  auto to = parse_address(env.mail_from, smtp::PathKind::Forward);
  if (to) req.envelope.rcpt_to.push_back(smtp::Recipient{*to, {}});
  req.bytes = mime::compose_dsn(in);
  req.local_accounts = res->accounts;
  req.peer_ip = "127.0.0.1";
  req.peer_name = "localhost";
  auto out = ingest(store, cfg, std::move(req));
  if (out.status != smtp::DeliveryStatus::Ok) return "report delivery failed: " + out.detail;
  return "report delivered to " + env.mail_from + " as " + out.queue_id;
}


}  // namespace refmail::server::relay_detail

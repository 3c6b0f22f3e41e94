// delivery/outbound.cpp — see outbound.hpp.
#include "delivery/outbound.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "mime/headers.hpp"

namespace refmail::delivery::outbound {
namespace {

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

// A bounce (or delay warning) into the local sender's INBOX, through the delivery
// service. Blocking. Returns a log detail.
std::string send_report(delivery::Service& mail, const config::Config& cfg, const QueuedEnvelope& env,
                        const std::string& message_bytes, std::int64_t arrival,
                        std::vector<mime::DsnRecipient> rcpts) {
  if (env.mail_from.empty()) return "null sender: no report (RFC 5321 4.5.5)";
  mime::DsnInput in;
  in.reporting_mta = cfg.hostname;
  in.to = env.mail_from;
  in.original_envid = env.envid;
  in.arrival_date = arrival;
  in.original_headers = mime::header_section(message_bytes);
  in.recipients = std::move(rcpts);
  auto out = mail.deliver_report(std::move(in), false);
  if (out.status == delivery::Status::bad_recipients) return out.detail;
  if (out.status != delivery::Status::ok) return "report delivery failed: " + out.detail;
  return "report delivered to " + env.mail_from + " as " + out.message_id;
}


}  // namespace refmail::delivery::outbound

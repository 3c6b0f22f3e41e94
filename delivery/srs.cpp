// delivery/srs.cpp — see srs.hpp.
#include "delivery/srs.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <vector>

namespace refmail::delivery {

namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool istarts(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequal(s.substr(0, prefix.size()), prefix);
}

std::string timestamp(std::time_t now) {
  const auto day = static_cast<unsigned>((now / 86400) % 1024);
  return {kBase32[(day >> 5) & 31], kBase32[day & 31]};
}

std::optional<unsigned> decode_timestamp(std::string_view t) {
  if (t.size() != 2) return std::nullopt;
  unsigned v = 0;
  for (char c : t) {
    const auto p = kBase32.find(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (p == std::string_view::npos) return std::nullopt;
    v = (v << 5) | static_cast<unsigned>(p);
  }
  return v;
}

// "a=b=c" split at the first `n` separators: nullopt when there are fewer.
std::optional<std::vector<std::string_view>> split(std::string_view s, std::size_t n) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < n; ++i) {
    const auto eq = s.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    out.push_back(s.substr(0, eq));
    s.remove_prefix(eq + 1);
  }
  out.push_back(s);
  return out;
}

}  // namespace

bool Srs::looks_like_srs(std::string_view local_part) {
  return istarts(local_part, "SRS0=") || istarts(local_part, "SRS1=");
}

std::string Srs::hash(std::string_view a, std::string_view b, std::string_view c) const {
  std::string data;
  for (auto part : {a, b, c}) {
    for (char ch : part) data += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  // The first 4 base64 characters: the first 3 bytes.
  const unsigned v = (unsigned{md[0]} << 16) | (unsigned{md[1]} << 8) | md[2];
  return {kBase64[(v >> 18) & 63], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63], kBase64[v & 63]};
}

std::string Srs::forward(std::string_view sender, std::time_t now) const {
  const auto at = sender.rfind('@');
  if (at == std::string_view::npos) return std::string(sender);
  const std::string_view local = sender.substr(0, at), host = sender.substr(at + 1);
  if (istarts(local, "SRS0=")) {
    // Another forwarder's SRS0: keep its domain and address as the first hop.
    const std::string_view rest = local.substr(4);  // "=HHHH=TT=domain=local"
    return "SRS1=" + hash(host, rest) + "=" + std::string(host) + "=" + std::string(rest) + "@" + domain_;
  }
  if (istarts(local, "SRS1=")) {
    // SRS1=<hash>=<first hop>=<rest>: a new hash, the first hop kept.
    auto f = split(local.substr(5), 2);
    if (f) {
      const std::string_view first = (*f)[1], rest = (*f)[2];
      return "SRS1=" + hash(first, rest) + "=" + std::string(first) + "=" + std::string(rest) + "@" + domain_;
    }
  }
  const auto ts = timestamp(now);
  return "SRS0=" + hash(ts, host, local) + "=" + ts + "=" + std::string(host) + "=" + std::string(local) + "@" +
         domain_;
}

std::optional<std::string> Srs::reverse(std::string_view local, std::time_t now) const {
  if (istarts(local, "SRS1=")) {
    auto f = split(local.substr(5), 2);  // hash, first hop, "=HHHH=TT=domain=local"
    if (!f || (*f)[1].empty() || (*f)[2].empty() || (*f)[2].front() != '=') return std::nullopt;
    if (!iequal((*f)[0], hash((*f)[1], (*f)[2]))) return std::nullopt;
    return "SRS0" + std::string((*f)[2]) + "@" + std::string((*f)[1]);
  }
  if (!istarts(local, "SRS0=")) return std::nullopt;
  auto f = split(local.substr(5), 3);  // hash, time, domain, local (may hold '=')
  if (!f || (*f)[2].empty() || (*f)[3].empty()) return std::nullopt;
  const auto then = decode_timestamp((*f)[1]);
  if (!then) return std::nullopt;
  const auto today = static_cast<unsigned>((now / 86400) % 1024);
  const unsigned age = (today + 1024 - *then) % 1024;  // a future day wraps to ~1023
  if (age > max_age_days_) return std::nullopt;
  if (!iequal((*f)[0], hash((*f)[1], (*f)[2], (*f)[3]))) return std::nullopt;
  return std::string((*f)[3]) + "@" + std::string((*f)[2]);
}

}  // namespace refmail::delivery

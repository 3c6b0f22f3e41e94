// trust/arc.hpp — ARC chain validation (RFC 8617 5.2): the ARC-Seal, ARC-Message-Signature
// and ARC-Authentication-Results sets that intermediaries (mailing lists, forwarders)
// added, checked with the DKIM machinery (trust/dkim.hpp): every set present once per
// instance, the cv= chain (none at i=1, pass after), the newest ARC-Message-Signature over
// the message as received, and every ARC-Seal over the sets up to its own.
// Sans-I/O and streaming like dkim::Verifier: feed() the message, finish() once; keys
// through dkim::KeyLookup.
// SECURITY: at most kMaxArcSets sets are looked at (more -> fail, no DNS query): each
// costs a key query and a public-key operation.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "trust/dkim.hpp"

namespace refmail::trust::arc {

// RFC 8617 allows 50; a chain longer than this is refused here (local policy).
inline constexpr unsigned kMaxArcSets = 16;

enum class ArcResult : std::uint8_t { None, Pass, Fail };
[[nodiscard]] std::string_view to_string(ArcResult r) noexcept;

struct ArcVerdict {
  ArcResult result = ArcResult::None;
  unsigned instances = 0;   // the newest instance (0: no ARC header fields)
  std::string reason;       // fail: what broke; pass: ""
  std::string sealer;       // d= of the newest ARC-Seal
  // The newest set's key lookup failed temporarily: the result is fail with this set.
  bool temporary = false;
};

class Verifier {
 public:
  Verifier(dkim::KeyLookup& keys, std::int64_t now);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  void feed(std::string_view chunk);
  [[nodiscard]] ArcVerdict finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

[[nodiscard]] ArcVerdict verify(std::string_view message, dkim::KeyLookup& keys, std::int64_t now);

// RFC 8601 / RFC 8617: "arc=pass (i=2 d=lists.example.org)", "arc=fail (reason)", "arc=none".
[[nodiscard]] std::string arc_auth_result(const ArcVerdict& v);

}  // namespace refmail::trust::arc

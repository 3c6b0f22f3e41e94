// trust/dkim_internal.hpp — what the DKIM files share and nothing else sees: the
// message's header block as DKIM needs it (exact field bytes), OpenSSL helpers.
// SECURITY: the header collector bounds what it holds (kMaxHeaderBlockBytes,
// kMaxHeaderFields); everything past the bound is handed on as body.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "trust/dkim.hpp"

namespace refmail::trust::dkim {

struct PrivateKey::Impl {
  EVP_PKEY* pkey = nullptr;
  ~Impl() { EVP_PKEY_free(pkey); }
  // The PrivateKey constructor is private; Impl, a member, may call it.
  static PrivateKey make(std::unique_ptr<Impl> impl, Algorithm a, unsigned bits);
};

namespace detail {

// One header field: `text` is "name:value" with its folds, line endings made CRLF (a
// bare LF counts as CRLF, as in the body), without the final CRLF. `name` is the field
// name lower-cased, WSP before the colon removed; "" for a line that is no field.
struct RawField {
  std::string name;
  std::string text;
};

// Splits a streamed message into its header fields and its body (RFC 5322 2.1: the
// header block ends at the first empty line). Not the mime/ scanner: DKIM must hash the
// exact bytes of each field and must not skip or repair lines as a reader does, and it
// needs no MIME structure; the scanner keeps its lenient field view for readers.
class HeaderCollector {
 public:
  // Feeds bytes; bytes after the header block are passed to `body` (in order).
  void feed(std::string_view chunk, const std::function<void(std::string_view)>& body);
  // End of input: a last header line without line ending is kept as a field.
  void finish();
  [[nodiscard]] bool in_body() const noexcept { return in_body_; }
  // The header block was longer than kMaxHeaderBlockBytes and was cut.
  [[nodiscard]] bool cut() const noexcept { return cut_; }
  [[nodiscard]] const std::vector<RawField>& fields() const noexcept { return fields_; }

 private:
  void take_line(std::string_view content);
  std::vector<RawField> fields_;
  std::string line_;        // the current incomplete line
  std::size_t held_ = 0;    // header bytes seen
  bool in_body_ = false;
  bool cut_ = false;
};

// The fields named in `h` picked bottom-up (RFC 6376 5.4.2): the i-th occurrence of a
// name in h= takes the i-th field of that name counting from the bottom; a name with no
// field left contributes nothing (oversigning). Returns indices into `fields`.
[[nodiscard]] std::vector<std::size_t> select_fields(const std::vector<RawField>& fields,
                                                     const std::vector<std::string>& h);

// `field` (a DKIM-Signature field's text) with the value of its b= tag deleted,
// surrounding FWS included (RFC 6376 3.7); the rest byte for byte.
[[nodiscard]] std::string without_b_value(std::string_view field);

// Header hash input (RFC 6376 3.7): the selected fields canonicalized, then the
// signature field without b= value, canonicalized, without its final CRLF.
[[nodiscard]] std::string header_hash_input(const std::vector<RawField>& fields,
                                            const std::vector<std::string>& h, Canon c,
                                            std::string_view signature_field_without_b);

[[nodiscard]] std::array<std::uint8_t, 32> sha256(std::string_view data);
[[nodiscard]] std::string base64(std::string_view bytes);  // one line, padded

// A public key from a key record.
struct PublicKey {
  EVP_PKEY* pkey = nullptr;
  unsigned bits = 0;
  PublicKey() = default;
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;
  ~PublicKey();
};
[[nodiscard]] boost::system::result<std::unique_ptr<PublicKey>, SignatureError> load_public_key(
    const KeyRecord& k);
[[nodiscard]] bool verify_signature(Algorithm a, EVP_PKEY* pkey, std::string_view data,
                                    std::string_view sig);
[[nodiscard]] boost::system::result<std::string> sign_data(const PrivateKey& key, std::string_view data);

// FWS characters (SP, HTAB, CR, LF) and a tag value with all of them removed.
[[nodiscard]] inline bool is_fws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
[[nodiscard]] std::string strip_fws(std::string_view s);

[[nodiscard]] char lower(char c) noexcept;
[[nodiscard]] std::string to_lower(std::string_view s);
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace detail
}  // namespace refmail::trust::dkim

// mime/rfc2047.hpp — RFC 2047 encoded-words ("=?charset?B|Q?text?="): decoding of
// received header text to UTF-8 (lenient, as mail readers must be) and encoding of
// UTF-8 text for the composer (subjects, display names).
// Never throws. Decoding output is valid UTF-8; encoding output is 7-bit ASCII.
// SECURITY: input is untrusted; decoded text may contain any Unicode (including CR/LF
// from a malicious encoded-word): callers that write it back into a header must
// re-encode it (encode_rfc2047 does), never paste it raw.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace refmail::mime {

// Unfolds a header field body (RFC 5322 2.2.3: CRLF/LF followed by WSP is removed,
// the WSP kept); also drops stray CR/LF.
[[nodiscard]] std::string unfold_header(std::string_view field_body);

// Decodes a header field body (unstructured text, phrase, or a parameter value) to
// UTF-8. The body is unfolded first. Lenient, as RFC 2047 readers are in practice:
//  - encoded-words are recognised anywhere (also inside quoted strings and words);
//  - linear whitespace between two adjacent encoded-words is dropped (RFC 2047 6.2),
//    and adjacent words in the same charset are joined before charset conversion, so
//    a multi-byte character split across two words is decoded right;
//  - bad base64/Q-encoding is decoded as far as possible;
//  - an unknown charset keeps the encoded-word as it was received;
//  - raw 8-bit text outside encoded-words is taken as UTF-8 if valid, else as
//    `fallback_charset` (empty: windows-1252).
// Leading and trailing whitespace is trimmed.
[[nodiscard]] std::string decode_rfc2047(std::string_view field_body,
                                         std::string_view fallback_charset = {});

// How encode_rfc2047 must restrict itself.
enum class EncodeContext {
  Text,    // unstructured text (Subject): RFC 2047 5(1)
  Phrase,  // a display name in an address: RFC 2047 5(3), stricter Q alphabet
};

// Encodes UTF-8 `text` for a header field body. ASCII text without anything that could
// be mistaken for an encoded-word is returned as is (Text) or as an atom / quoted string
// (Phrase). Otherwise the whole text becomes UTF-8 encoded-words (Q if mostly ASCII, else
// B), each at most 75 characters and never splitting a UTF-8 sequence, separated by
// CRLF SP so every line stays <= 76 characters given that the first line already holds
// `first_line_used` characters (e.g. strlen("Subject: ")).
// REQUIRES: nothing; invalid UTF-8 is sanitised first.
[[nodiscard]] std::string encode_rfc2047(std::string_view text,
                                         EncodeContext context = EncodeContext::Text,
                                         std::size_t first_line_used = 0);

// Folds an ASCII field body at whitespace so lines stay <= 78 characters where
// possible (RFC 5322 2.2.3), first line already holding `first_line_used`.
[[nodiscard]] std::string fold_header(std::string_view field_body, std::size_t first_line_used);

// Lenient base64 decode of a header-sized value: ignores characters outside the
// alphabet, tolerates missing padding. Used for "B" encoded-words.
[[nodiscard]] std::string decode_base64_lenient(std::string_view in);

}  // namespace refmail::mime

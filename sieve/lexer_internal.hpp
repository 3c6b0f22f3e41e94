// sieve/lexer_internal.hpp — RFC 5228 2 lexical tokens: identifiers, tags, numbers with
// K/M/G (2.4.1), quoted strings with escapes and "text:" multi-line strings with dot
// stuffing (2.4.2), comments (2.3), punctuation. Positions are 1-based line:column.
// SECURITY: the source is untrusted: NUL bytes and invalid UTF-8 are refused, strings
// are bounded by Limits::max_string_bytes, numbers by 2^63.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sieve/limits.hpp"

namespace refmail::sieve::detail {

enum class Tok { Identifier, Tag, Number, String, LBracket, RBracket, LParen, RParen, Comma,
                 Semicolon, LBrace, RBrace, End };

struct Token {
  Tok kind = Tok::End;
  std::string text;         // identifier or tag name (without ':'), lower-case; string value
  std::uint64_t number = 0;
  unsigned line = 0, column = 0;
};

struct LexResult {
  std::vector<Token> tokens;  // ends with Tok::End
  std::optional<Error> error;
};

[[nodiscard]] LexResult lex(std::string_view source, const Limits& limits);

// The 1-based line and column of byte `offset` in `source`.
void position_of(std::string_view source, std::size_t offset, unsigned& line, unsigned& column);

}  // namespace refmail::sieve::detail

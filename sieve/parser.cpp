// sieve/parser.cpp — RFC 5228 8.2 grammar over the lexer's tokens: commands, blocks,
// arguments, tests and test lists, with require placement (3.2) and if/elsif/else
// chaining (3.1), encoded-character decoding (2.4.2.4). Each command or test is checked against the table in validate.cpp
// as soon as it is read.
// SECURITY: recursion (blocks, nested tests) is bounded by Limits::max_nesting, checked
// before descending, so 10,000 nested tests are a compile error, not a stack overflow.
#include <cstdint>
#include <utility>

#include "sieve/ast_internal.hpp"
#include "sieve/lexer_internal.hpp"
#include "sieve/validate_internal.hpp"

namespace refmail::sieve::detail {
namespace {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Limits& limits) : t_(std::move(tokens)), limits_(limits) {}

  std::optional<Error> parse(Script& script) {
    auto e = commands(0, script.commands);
    if (e) return e;
    if (peek().kind != Tok::End) return err(peek(), "unexpected '}'");
    script.extensions = extensions_;
    return std::nullopt;
  }

 private:
  const Token& peek() const { return t_[i_]; }
  const Token& next() { const Token& t = t_[i_]; if (t.kind != Tok::End) ++i_; return t; }
  static Error err(const Token& t, std::string msg) { return Error{t.line, t.column, std::move(msg)}; }
  static const char* describe(Tok k) {
    switch (k) {
      case Tok::Identifier: return "an identifier";
      case Tok::Tag: return "a tag";
      case Tok::Number: return "a number";
      case Tok::String: return "a string";
      case Tok::LBracket: return "'['";
      case Tok::RBracket: return "']'";
      case Tok::LParen: return "'('";
      case Tok::RParen: return "')'";
      case Tok::Comma: return "','";
      case Tok::Semicolon: return "';'";
      case Tok::LBrace: return "'{'";
      case Tok::RBrace: return "'}'";
      case Tok::End: return "the end of the script";
    }
    return "?";
  }

  std::optional<Error> commands(std::size_t depth, std::vector<Node>& out) {
    while (peek().kind != Tok::End && peek().kind != Tok::RBrace) {
      Node n;
      if (auto e = command(depth, out, n)) return e;
      out.push_back(std::move(n));
    }
    return std::nullopt;
  }

  std::optional<Error> command(std::size_t depth, const std::vector<Node>& siblings, Node& out) {
    const Token& name = next();
    if (name.kind != Tok::Identifier) return err(name, std::string("expected a command, found ") + describe(name.kind));
    RawNode raw;
    raw.name = name.text;
    raw.line = name.line;
    raw.column = name.column;
    if (raw.name == "require") {
      // RFC 5228 3.2: require only at the top, before any other command.
      if (depth != 0 || seen_other_) return err(name, "require must come before any other command");
    } else {
      seen_other_ = true;
    }
    if (raw.name == "elsif" || raw.name == "else") {
      if (siblings.empty() || (siblings.back().op != Op::If && siblings.back().op != Op::Elsif))
        return err(name, raw.name + " without if");
    }
    if (auto e = arguments(depth, raw)) return e;
    if (peek().kind == Tok::LBrace) {
      const Token& brace = next();
      if (depth + 1 > limits_.max_nesting) return err(brace, "blocks nested too deeply");
      raw.has_block = true;
      if (auto e = commands(depth + 1, raw.block)) return e;
      const Token& close = next();
      if (close.kind != Tok::RBrace) return err(close, std::string("expected '}', found ") + describe(close.kind));
    } else {
      const Token& semi = next();
      if (semi.kind != Tok::Semicolon)
        return err(semi, std::string("expected ';' after ") + raw.name + ", found " + describe(semi.kind));
    }
    return validate(std::move(raw), extensions_, limits_, out);
  }

  // arguments = *argument [ test / test-list ]
  std::optional<Error> arguments(std::size_t depth, RawNode& raw) {
    for (;;) {
      const Token& t = peek();
      RawArg a;
      a.line = t.line;
      a.column = t.column;
      if (t.kind == Tok::Tag) {
        a.kind = RawArg::Tag;
        a.tag = next().text;
      } else if (t.kind == Tok::Number) {
        a.kind = RawArg::Number;
        a.number = next().number;
      } else if (t.kind == Tok::String) {
        if (auto e = string_value(next(), a.strings)) return e;
      } else if (t.kind == Tok::LBracket) {
        next();
        a.list = true;
        for (;;) {
          const Token& s = next();
          if (s.kind != Tok::String) return err(s, std::string("expected a string in the list, found ") + describe(s.kind));
          if (auto e = string_value(s, a.strings)) return e;
          const Token& sep = next();
          if (sep.kind == Tok::RBracket) break;
          if (sep.kind != Tok::Comma) return err(sep, std::string("expected ',' or ']', found ") + describe(sep.kind));
        }
      } else {
        break;
      }
      raw.args.push_back(std::move(a));
    }
    if (peek().kind == Tok::Identifier) {
      if (depth + 1 > limits_.max_nesting) return err(peek(), "tests nested too deeply");
      raw.has_test = true;
      Node n;
      if (auto e = test(depth + 1, n)) return e;
      raw.tests.push_back(std::move(n));
    } else if (peek().kind == Tok::LParen) {
      const Token& open = next();
      if (depth + 1 > limits_.max_nesting) return err(open, "tests nested too deeply");
      raw.has_test = raw.test_list = true;
      for (;;) {
        Node n;
        if (auto e = test(depth + 1, n)) return e;
        raw.tests.push_back(std::move(n));
        const Token& sep = next();
        if (sep.kind == Tok::RParen) break;
        if (sep.kind != Tok::Comma) return err(sep, std::string("expected ',' or ')', found ") + describe(sep.kind));
      }
    }
    return std::nullopt;
  }

  // A string argument, with RFC 5228 2.4.2.4 encoded characters decoded once
  // "encoded-character" is required.
  std::optional<Error> string_value(const Token& t, std::vector<std::string>& out) {
    out.push_back(t.text);
    if ((extensions_ & kExtEncodedCharacter) && !decode_encoded_characters(out.back()))
      return err(t, "bad code point in ${unicode:...}");
    return std::nullopt;
  }

  std::optional<Error> test(std::size_t depth, Node& out) {
    const Token& name = next();
    if (name.kind != Tok::Identifier) return err(name, std::string("expected a test, found ") + describe(name.kind));
    RawNode raw;
    raw.name = name.text;
    raw.is_test = true;
    raw.line = name.line;
    raw.column = name.column;
    if (auto e = arguments(depth, raw)) return e;
    return validate(std::move(raw), extensions_, limits_, out);
  }

  std::vector<Token> t_;
  const Limits& limits_;
  std::size_t i_ = 0;
  bool seen_other_ = false;
  unsigned extensions_ = 0;
};

}  // namespace

bool decode_encoded_characters(std::string& s) {
  if (s.find("${") == std::string::npos) return true;
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "${") == 0) {
      std::size_t colon = s.find(':', i + 2);
      std::string kind = colon == std::string::npos ? std::string() : s.substr(i + 2, colon - i - 2);
      for (auto& c : kind) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
      if (kind == "hex" || kind == "unicode") {
        std::size_t j = colon + 1;
        std::string decoded;
        bool ok = true, any = false;
        for (;;) {
          while (j < s.size() && blank(s[j])) ++j;
          if (j >= s.size()) { ok = false; break; }
          if (s[j] == '}') break;
          std::size_t start = j;
          std::uint32_t v = 0;
          while (j < s.size() && hexval(s[j]) >= 0 && j - start < 8) v = v * 16 + static_cast<std::uint32_t>(hexval(s[j++]));
          std::size_t n = j - start;
          if (kind == "hex" ? n != 2 : (n == 0 || n > 6)) { ok = false; break; }
          if (j < s.size() && !blank(s[j]) && s[j] != '}') { ok = false; break; }
          any = true;
          if (kind == "hex") {
            decoded.push_back(static_cast<char>(v));
          } else {
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
            // UTF-8 encoding of v
            if (v < 0x80) decoded.push_back(static_cast<char>(v));
            else if (v < 0x800) { decoded.push_back(static_cast<char>(0xC0 | (v >> 6))); decoded.push_back(static_cast<char>(0x80 | (v & 0x3F))); }
            else if (v < 0x10000) { decoded.push_back(static_cast<char>(0xE0 | (v >> 12))); decoded.push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F))); decoded.push_back(static_cast<char>(0x80 | (v & 0x3F))); }
            else { decoded.push_back(static_cast<char>(0xF0 | (v >> 18))); decoded.push_back(static_cast<char>(0x80 | ((v >> 12) & 0x3F))); decoded.push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F))); decoded.push_back(static_cast<char>(0x80 | (v & 0x3F))); }
          }
        }
        (void)any;  // "${hex:}" is an empty sequence: decodes to nothing
        if (ok) {
          out += decoded;
          i = j + 1;
          continue;
        }
      }
    }
    out.push_back(s[i++]);
  }
  s = std::move(out);
  return true;
}

Compiled parse_script(std::string_view source, const Limits& limits) {
  Compiled out;
  auto lexed = lex(source, limits);
  if (lexed.error) {
    out.error = std::move(lexed.error);
    return out;
  }
  auto script = std::make_shared<Script>();
  Parser p(std::move(lexed.tokens), limits);
  if (auto e = p.parse(*script)) {
    out.error = std::move(e);
    return out;
  }
  out.script = std::move(script);
  return out;
}

}  // namespace refmail::sieve::detail

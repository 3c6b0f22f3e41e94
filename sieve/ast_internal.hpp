// sieve/ast_internal.hpp — the compiled form of a script: a tree of validated Nodes
// (commands and tests) whose arguments are already typed (match type, comparator,
// address part, ...). Built by parser.cpp + validate.cpp, read by interpreter.cpp.
// Immutable after compile(); its depth is bounded by Limits::max_nesting, so the
// recursive walks over it (interpreter, destructor) are bounded too.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sieve/sieve.hpp"

namespace refmail::sieve {
namespace detail {

enum class Op {
  // control and actions (RFC 5228 3, 4; extensions)
  Require, If, Elsif, Else, Stop, Keep, Discard, FileInto, Redirect, Reject, Ereject, Vacation,
  SetFlag, AddFlag, RemoveFlag, Set, AddHeader, DeleteHeader,
  // tests (RFC 5228 5; extensions)
  Address, Envelope, Header, Exists, Size, AllOf, AnyOf, Not, True, False, Body, Date,
  CurrentDate, MailboxExists, HasFlag, String,
};

enum class MatchType { Is, Contains, Matches, Regex, Count, Value };
enum class Relop { Gt, Ge, Lt, Le, Eq, Ne };
enum class Comparator { Octet, AsciiCasemap, AsciiNumeric };
enum class AddressPart { All, LocalPart, Domain, User, Detail };
enum class ZoneMode { Local, Zone, Original };
enum class BodyTransform { Raw, Content, Text };

// set modifiers (RFC 5229 4.1), as bits
inline constexpr unsigned kModLower = 1, kModUpper = 2, kModLowerFirst = 4, kModUpperFirst = 8,
                          kModQuoteWildcard = 16, kModLength = 32;

// Extensions, as bits (require)
enum Ext : unsigned {
  kExtFileInto = 1u << 0, kExtEnvelope = 1u << 1, kExtReject = 1u << 2, kExtEreject = 1u << 3,
  kExtVacation = 1u << 4, kExtVacationSeconds = 1u << 5, kExtImap4Flags = 1u << 6,
  kExtVariables = 1u << 7, kExtRelational = 1u << 8, kExtSubaddress = 1u << 9,
  kExtCopy = 1u << 10, kExtBody = 1u << 11, kExtDate = 1u << 12, kExtIndex = 1u << 13,
  kExtMailbox = 1u << 14, kExtRegex = 1u << 15, kExtEditHeader = 1u << 16,
  kExtNumeric = 1u << 17, kExtEncodedCharacter = 1u << 18,
};

struct Node {
  Op op = Op::True;
  unsigned line = 0, column = 0;
  // match (tests)
  MatchType match = MatchType::Is;
  Relop relop = Relop::Eq;
  Comparator comparator = Comparator::AsciiCasemap;
  AddressPart part = AddressPart::All;
  std::uint64_t index = 0;  // :index N (1-based), 0 = none
  bool last = false;        // :last (index, addheader)
  ZoneMode zone_mode = ZoneMode::Local;
  std::string zone;         // :zone value
  BodyTransform transform = BodyTransform::Text;
  std::vector<std::string> content_types;
  bool over = false;        // size :over / :under
  std::uint64_t number = 0;  // size limit
  // actions
  bool copy = false, create = false, mime = false;
  bool has_flags = false;
  std::vector<std::string> flags;   // :flags
  bool has_days = false, has_seconds = false;
  std::uint64_t period = 0;         // :days or :seconds value
  std::optional<std::string> subject, from, handle;
  std::vector<std::string> addresses;
  unsigned modifiers = 0;
  // positional string arguments, in order (a single string is a one-element list)
  std::vector<std::vector<std::string>> args;
  std::vector<Node> tests;  // the test of if/elsif; children of allof/anyof/not
  std::vector<Node> block;  // if/elsif/else body
};

}  // namespace detail

class Script {
 public:
  std::vector<detail::Node> commands;
  unsigned extensions = 0;
};

namespace detail {
// RFC 5228 2.4.2.4 encoded-character: replaces "${hex:...}" and "${unicode:...}" in
// `s`; malformed sequences stay as written. False for a code point that is a surrogate
// or above U+10FFFF (a compile error).
[[nodiscard]] bool decode_encoded_characters(std::string& s);
// parser.cpp: source -> Script (calls validate_* below).
[[nodiscard]] Compiled parse_script(std::string_view source, const Limits& limits);
}  // namespace detail

}  // namespace refmail::sieve

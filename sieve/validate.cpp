// sieve/validate.cpp — the command/test table of RFC 5228 and the extensions, and the
// check of each parsed command or test against it: known name, required extension,
// allowed tags (once per group), positional argument count and types, a test or test
// list or block where one belongs, and the constant arguments that can be checked
// early (extension names, comparators, relational operators, date-parts, zones, regex
// patterns, variable names, header field names).
// SECURITY: only builds values; every error is returned with the argument's position.
#include <array>
#include <string_view>

#include "sieve/date_internal.hpp"
#include "sieve/regex_internal.hpp"
#include "sieve/validate_internal.hpp"

namespace refmail::sieve::detail {
namespace {

// Tag groups a command or test accepts.
enum Group : unsigned {
  gComparator = 1u << 0, gMatch = 1u << 1, gAddressPart = 1u << 2, gIndex = 1u << 3,
  gZone = 1u << 4, gOriginalZone = 1u << 5, gBody = 1u << 6, gSize = 1u << 7, gCopy = 1u << 8,
  gCreate = 1u << 9, gFlags = 1u << 10, gVacation = 1u << 11, gModifiers = 1u << 12,
  gLast = 1u << 13,
};
constexpr unsigned kMatchTags = gComparator | gMatch;

enum class TestArity { None, One, List, Block };

struct Spec {
  std::string_view name;
  Op op;
  bool is_test;
  unsigned ext;          // extension(s) needed (any bit of it), 0 = core
  unsigned groups;
  std::string_view positional;  // 'S' string, 'L' string list, 'N' number
  std::size_t min_positional;   // fewer: the optional argument is missing
  bool optional_first;          // with min_positional args, the first is the one missing
  TestArity arity;
};

constexpr std::array kSpecs = {
    Spec{"require", Op::Require, false, 0, 0, "L", 1, false, TestArity::None},
    Spec{"if", Op::If, false, 0, 0, "", 0, false, TestArity::Block},
    Spec{"elsif", Op::Elsif, false, 0, 0, "", 0, false, TestArity::Block},
    Spec{"else", Op::Else, false, 0, 0, "", 0, false, TestArity::Block},
    Spec{"stop", Op::Stop, false, 0, 0, "", 0, false, TestArity::None},
    Spec{"keep", Op::Keep, false, 0, gFlags, "", 0, false, TestArity::None},
    Spec{"discard", Op::Discard, false, 0, 0, "", 0, false, TestArity::None},
    Spec{"fileinto", Op::FileInto, false, kExtFileInto, gCopy | gCreate | gFlags, "S", 1, false, TestArity::None},
    Spec{"redirect", Op::Redirect, false, 0, gCopy, "S", 1, false, TestArity::None},
    Spec{"reject", Op::Reject, false, kExtReject, 0, "S", 1, false, TestArity::None},
    Spec{"ereject", Op::Ereject, false, kExtEreject, 0, "S", 1, false, TestArity::None},
    Spec{"vacation", Op::Vacation, false, kExtVacation | kExtVacationSeconds, gVacation, "S", 1, false, TestArity::None},
    Spec{"setflag", Op::SetFlag, false, kExtImap4Flags, 0, "SL", 1, true, TestArity::None},
    Spec{"addflag", Op::AddFlag, false, kExtImap4Flags, 0, "SL", 1, true, TestArity::None},
    Spec{"removeflag", Op::RemoveFlag, false, kExtImap4Flags, 0, "SL", 1, true, TestArity::None},
    Spec{"set", Op::Set, false, kExtVariables, gModifiers, "SS", 2, false, TestArity::None},
    Spec{"addheader", Op::AddHeader, false, kExtEditHeader, gLast, "SS", 2, false, TestArity::None},
    Spec{"deleteheader", Op::DeleteHeader, false, kExtEditHeader, kMatchTags | gIndex, "SL", 1, false, TestArity::None},
    Spec{"address", Op::Address, true, 0, kMatchTags | gAddressPart | gIndex, "LL", 2, false, TestArity::None},
    Spec{"envelope", Op::Envelope, true, kExtEnvelope, kMatchTags | gAddressPart, "LL", 2, false, TestArity::None},
    Spec{"header", Op::Header, true, 0, kMatchTags | gIndex, "LL", 2, false, TestArity::None},
    Spec{"exists", Op::Exists, true, 0, 0, "L", 1, false, TestArity::None},
    Spec{"size", Op::Size, true, 0, gSize, "N", 1, false, TestArity::None},
    Spec{"allof", Op::AllOf, true, 0, 0, "", 0, false, TestArity::List},
    Spec{"anyof", Op::AnyOf, true, 0, 0, "", 0, false, TestArity::List},
    Spec{"not", Op::Not, true, 0, 0, "", 0, false, TestArity::One},
    Spec{"true", Op::True, true, 0, 0, "", 0, false, TestArity::None},
    Spec{"false", Op::False, true, 0, 0, "", 0, false, TestArity::None},
    Spec{"body", Op::Body, true, kExtBody, kMatchTags | gBody, "L", 1, false, TestArity::None},
    Spec{"date", Op::Date, true, kExtDate, kMatchTags | gIndex | gZone | gOriginalZone, "SSL", 3, false, TestArity::None},
    Spec{"currentdate", Op::CurrentDate, true, kExtDate, kMatchTags | gZone, "SL", 2, false, TestArity::None},
    Spec{"mailboxexists", Op::MailboxExists, true, kExtMailbox, 0, "L", 1, false, TestArity::None},
    Spec{"hasflag", Op::HasFlag, true, kExtImap4Flags, kMatchTags, "LL", 1, true, TestArity::None},
    Spec{"string", Op::String, true, kExtVariables, kMatchTags, "LL", 2, false, TestArity::None},
};

struct ExtName { std::string_view name; unsigned bits; };
constexpr std::array kExtensions = {
    ExtName{"fileinto", kExtFileInto}, ExtName{"envelope", kExtEnvelope}, ExtName{"reject", kExtReject},
    ExtName{"ereject", kExtEreject}, ExtName{"vacation", kExtVacation},
    ExtName{"vacation-seconds", kExtVacation | kExtVacationSeconds}, ExtName{"imap4flags", kExtImap4Flags},
    ExtName{"variables", kExtVariables}, ExtName{"relational", kExtRelational},
    ExtName{"subaddress", kExtSubaddress}, ExtName{"copy", kExtCopy}, ExtName{"body", kExtBody},
    ExtName{"date", kExtDate}, ExtName{"index", kExtIndex}, ExtName{"mailbox", kExtMailbox},
    ExtName{"regex", kExtRegex}, ExtName{"editheader", kExtEditHeader},
    ExtName{"comparator-i;ascii-numeric", kExtNumeric}, ExtName{"encoded-character", kExtEncodedCharacter},
    // RFC 5228 2.7.3: always available, may be required anyway.
    ExtName{"comparator-i;octet", 0}, ExtName{"comparator-i;ascii-casemap", 0},
};

const Spec* find_spec(std::string_view name) {
  for (const auto& s : kSpecs)
    if (s.name == name) return &s;
  return nullptr;
}

Error at(const RawArg& a, std::string msg) { return Error{a.line, a.column, std::move(msg)}; }
Error at(const RawNode& n, std::string msg) { return Error{n.line, n.column, std::move(msg)}; }

bool has_variables(std::string_view s) { return s.find("${") != std::string_view::npos; }

bool valid_field_name(std::string_view s) {
  // RFC 5322 2.2: ftext = %d33-57 / %d59-126
  if (s.empty() || s.size() > 998) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

bool valid_variable_name(std::string_view s) {
  // RFC 5229 3: identifier, optionally namespace-qualified ("a.b"); not numeric here.
  if (s.empty() || s.size() > 64) return false;
  bool start = true;
  for (char c : s) {
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (c == '.') {
      if (start) return false;
      start = true;
      continue;
    }
    if (start ? !alpha : !(alpha || digit)) return false;
    start = false;
  }
  return !start;
}

class Checker {
 public:
  Checker(RawNode& raw, const Spec& spec, unsigned& ext, const Limits& limits, Node& out)
      : raw_(raw), spec_(spec), ext_(ext), limits_(limits), n_(out) {}

  std::optional<Error> run() {
    n_.op = spec_.op;
    n_.line = raw_.line;
    n_.column = raw_.column;
    if (spec_.ext && !(ext_ & spec_.ext))
      return at(raw_, std::string(spec_.is_test ? "test" : "command") + " \"" + std::string(spec_.name) +
                          "\" requires \"" + ext_name(spec_.ext) + "\"");
    std::size_t i = 0;
    for (; i < raw_.args.size() && raw_.args[i].kind == RawArg::Tag; ++i)
      if (auto e = tag(i)) return e;
    std::vector<RawArg*> pos;
    for (; i < raw_.args.size(); ++i) {
      if (raw_.args[i].kind == RawArg::Tag)
        return at(raw_.args[i], "tag \":" + raw_.args[i].tag + "\" after positional arguments");
      pos.push_back(&raw_.args[i]);
    }
    if (auto e = positional(pos)) return e;
    if (auto e = tests()) return e;
    return semantics();
  }

 private:
  static std::string ext_name(unsigned bits) {
    for (const auto& e : kExtensions)
      if (e.bits & bits) return std::string(e.name);
    return "?";
  }
  std::optional<Error> need(const RawArg& a, unsigned bits) {
    if (ext_ & bits) return std::nullopt;
    return at(a, "tag \":" + a.tag + "\" requires \"" + ext_name(bits) + "\"");
  }
  std::optional<Error> group(const RawArg& a, unsigned g) {
    if (!(spec_.groups & g)) return at(a, "unknown tag \":" + a.tag + "\" for " + std::string(spec_.name));
    if (seen_ & g) return at(a, "tag \":" + a.tag + "\" conflicts with an earlier tag");
    seen_ |= g;
    return std::nullopt;
  }
  // The argument after tag i, which must be a single string (or, with list_ok, a list).
  std::optional<Error> tag_value(std::size_t& i, bool list_ok, std::vector<std::string>& out) {
    const RawArg& t = raw_.args[i];
    if (i + 1 >= raw_.args.size() || raw_.args[i + 1].kind != RawArg::Strings ||
        (!list_ok && raw_.args[i + 1].list))
      return at(i + 1 < raw_.args.size() ? raw_.args[i + 1] : t,
                "tag \":" + t.tag + "\" needs a " + (list_ok ? "string list" : "string"));
    out = raw_.args[++i].strings;
    return std::nullopt;
  }
  std::optional<Error> tag_number(std::size_t& i, std::uint64_t& out) {
    const RawArg& t = raw_.args[i];
    if (i + 1 >= raw_.args.size() || raw_.args[i + 1].kind != RawArg::Number)
      return at(i + 1 < raw_.args.size() ? raw_.args[i + 1] : t, "tag \":" + t.tag + "\" needs a number");
    out = raw_.args[++i].number;
    return std::nullopt;
  }

  std::optional<Error> tag(std::size_t& i) {
    const RawArg& a = raw_.args[i];
    const std::string& t = a.tag;
    std::vector<std::string> v;
    if (t == "comparator") {
      if (auto e = group(a, gComparator)) return e;
      if (auto e = tag_value(i, false, v)) return e;
      if (v[0] == "i;octet") n_.comparator = Comparator::Octet;
      else if (v[0] == "i;ascii-casemap") n_.comparator = Comparator::AsciiCasemap;
      else if (v[0] == "i;ascii-numeric") {
        if (!(ext_ & kExtNumeric)) return at(raw_.args[i], "comparator \"i;ascii-numeric\" requires \"comparator-i;ascii-numeric\"");
        n_.comparator = Comparator::AsciiNumeric;
      } else return at(raw_.args[i], "unknown comparator \"" + v[0] + "\"");
      return std::nullopt;
    }
    if (t == "is" || t == "contains" || t == "matches" || t == "regex" || t == "count" || t == "value") {
      if (auto e = group(a, gMatch)) return e;
      if (t == "is") n_.match = MatchType::Is;
      else if (t == "contains") n_.match = MatchType::Contains;
      else if (t == "matches") n_.match = MatchType::Matches;
      else if (t == "regex") {
        if (auto e = need(a, kExtRegex)) return e;
        n_.match = MatchType::Regex;
      } else {
        if (auto e = need(a, kExtRelational)) return e;
        n_.match = t == "count" ? MatchType::Count : MatchType::Value;
        if (auto e = tag_value(i, false, v)) return e;
        std::string r = v[0];
        for (auto& c : r) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        if (r == "gt") n_.relop = Relop::Gt;
        else if (r == "ge") n_.relop = Relop::Ge;
        else if (r == "lt") n_.relop = Relop::Lt;
        else if (r == "le") n_.relop = Relop::Le;
        else if (r == "eq") n_.relop = Relop::Eq;
        else if (r == "ne") n_.relop = Relop::Ne;
        else return at(raw_.args[i], "unknown relational operator \"" + v[0] + "\"");
      }
      return std::nullopt;
    }
    if (t == "all" || t == "localpart" || t == "domain" || t == "user" || t == "detail") {
      if (auto e = group(a, gAddressPart)) return e;
      if (t == "user" || t == "detail")
        if (auto e = need(a, kExtSubaddress)) return e;
      n_.part = t == "all" ? AddressPart::All : t == "localpart" ? AddressPart::LocalPart
              : t == "domain" ? AddressPart::Domain : t == "user" ? AddressPart::User : AddressPart::Detail;
      return std::nullopt;
    }
    if (t == "index") {
      if (auto e = group(a, gIndex)) return e;
      if (auto e = need(a, kExtIndex)) return e;
      if (auto e = tag_number(i, n_.index)) return e;
      if (n_.index == 0) return at(raw_.args[i], ":index must be at least 1");
      return std::nullopt;
    }
    if (t == "last") {
      if (spec_.groups & gLast) {  // addheader :last (RFC 5293 4)
        if (auto e = group(a, gLast)) return e;
      } else {
        if (!(spec_.groups & gIndex)) return at(a, "unknown tag \":last\" for " + std::string(spec_.name));
        if (auto e = need(a, kExtIndex)) return e;
        if (seen_last_) return at(a, "tag \":last\" given twice");
        seen_last_ = true;
      }
      n_.last = true;
      return std::nullopt;
    }
    if (t == "zone" || t == "originalzone") {
      if (t == "originalzone" && !(spec_.groups & gOriginalZone))
        return at(a, "unknown tag \":originalzone\" for " + std::string(spec_.name));
      if (auto e = group(a, gZone)) return e;
      if (t == "originalzone") {
        n_.zone_mode = ZoneMode::Original;
        return std::nullopt;
      }
      if (auto e = tag_value(i, false, v)) return e;
      n_.zone_mode = ZoneMode::Zone;
      n_.zone = v[0];
      if (!has_variables(n_.zone) && !parse_zone(n_.zone))
        return at(raw_.args[i], "bad zone \"" + n_.zone + "\" (expected +hhmm or -hhmm)");
      return std::nullopt;
    }
    if (t == "raw" || t == "content" || t == "text") {
      if (auto e = group(a, gBody)) return e;
      if (t == "raw") n_.transform = BodyTransform::Raw;
      else if (t == "text") n_.transform = BodyTransform::Text;
      else {
        n_.transform = BodyTransform::Content;
        if (auto e = tag_value(i, true, n_.content_types)) return e;
      }
      return std::nullopt;
    }
    if (t == "over" || t == "under") {
      if (auto e = group(a, gSize)) return e;
      n_.over = t == "over";
      return std::nullopt;
    }
    if (t == "copy") {
      if (auto e = group(a, gCopy)) return e;
      if (auto e = need(a, kExtCopy)) return e;
      n_.copy = true;
      return std::nullopt;
    }
    if (t == "create") {
      if (auto e = group(a, gCreate)) return e;
      if (auto e = need(a, kExtMailbox)) return e;
      n_.create = true;
      return std::nullopt;
    }
    if (t == "flags") {
      if (auto e = group(a, gFlags)) return e;
      if (auto e = need(a, kExtImap4Flags)) return e;
      n_.has_flags = true;
      return tag_value(i, true, n_.flags);
    }
    if (spec_.groups & gVacation) {
      unsigned bit = 0;
      if (t == "days") bit = 1;
      else if (t == "seconds") bit = 1;
      else if (t == "subject") bit = 2;
      else if (t == "from") bit = 4;
      else if (t == "addresses") bit = 8;
      else if (t == "handle") bit = 16;
      else if (t == "mime") bit = 32;
      if (bit) {
        if (vac_seen_ & bit) return at(a, "tag \":" + t + "\" conflicts with an earlier tag");
        vac_seen_ |= bit;
        if (t == "days" || t == "seconds") {
          if (t == "seconds")
            if (auto e = need(a, kExtVacationSeconds)) return e;
          (t == "days" ? n_.has_days : n_.has_seconds) = true;
          return tag_number(i, n_.period);
        }
        if (t == "mime") {
          n_.mime = true;
          return std::nullopt;
        }
        if (t == "addresses") return tag_value(i, true, n_.addresses);
        if (auto e = tag_value(i, false, v)) return e;
        (t == "subject" ? n_.subject : t == "from" ? n_.from : n_.handle) = v[0];
        return std::nullopt;
      }
    }
    if (spec_.groups & gModifiers) {
      unsigned bit = t == "lower" ? kModLower : t == "upper" ? kModUpper : t == "lowerfirst" ? kModLowerFirst
                   : t == "upperfirst" ? kModUpperFirst : t == "quotewildcard" ? kModQuoteWildcard
                   : t == "length" ? kModLength : 0;
      if (bit) {
        // RFC 5229 4.1: one modifier per precedence level.
        unsigned level = (bit & (kModLower | kModUpper)) ? (kModLower | kModUpper)
                       : (bit & (kModLowerFirst | kModUpperFirst)) ? (kModLowerFirst | kModUpperFirst) : bit;
        if (n_.modifiers & level) return at(a, "modifier \":" + t + "\" conflicts with an earlier modifier");
        n_.modifiers |= bit;
        return std::nullopt;
      }
    }
    return at(a, "unknown tag \":" + t + "\" for " + std::string(spec_.name));
  }

  std::optional<Error> positional(const std::vector<RawArg*>& pos) {
    std::string_view types = spec_.positional;
    if (pos.size() < spec_.min_positional || pos.size() > types.size()) {
      const RawArg* where = pos.size() > types.size() ? pos[types.size()] : nullptr;
      std::string msg = std::string(spec_.name) + " takes " +
                        (spec_.min_positional == types.size()
                             ? std::to_string(types.size())
                             : std::to_string(spec_.min_positional) + " to " + std::to_string(types.size())) +
                        " positional argument" + (types.size() == 1 ? "" : "s") + ", " +
                        std::to_string(pos.size()) + " given";
      return where ? at(*where, msg) : at(raw_, msg);
    }
    if (pos.size() < types.size()) types = spec_.optional_first ? types.substr(types.size() - pos.size())
                                                                : types.substr(0, pos.size());
    for (std::size_t k = 0; k < pos.size(); ++k) {
      const RawArg& a = *pos[k];
      char want = types[k];
      if (want == 'N') {
        if (a.kind != RawArg::Number) return at(a, std::string(spec_.name) + ": expected a number");
        n_.number = a.number;
        continue;
      }
      if (a.kind != RawArg::Strings)
        return at(a, std::string(spec_.name) + ": expected a " + (want == 'S' ? "string" : "string list"));
      if (want == 'S' && a.list)
        return at(a, std::string(spec_.name) + ": expected a string, not a list");
      n_.args.push_back(a.strings);
    }
    // hasflag/setflag with the optional variable-list argument absent: mark with an empty
    // list in front so args.back() is always the flag/key list.
    if (spec_.optional_first && pos.size() < spec_.positional.size()) n_.args.insert(n_.args.begin(), std::vector<std::string>{});
    return std::nullopt;
  }

  std::optional<Error> tests() {
    switch (spec_.arity) {
      case TestArity::None:
        if (raw_.has_test) return at(raw_, std::string(spec_.name) + " takes no test");
        if (raw_.has_block) return at(raw_, std::string(spec_.name) + " takes no block");
        return std::nullopt;
      case TestArity::One:
        if (!raw_.has_test || raw_.test_list) return at(raw_, std::string(spec_.name) + " takes exactly one test");
        break;
      case TestArity::List:
        if (!raw_.test_list) return at(raw_, std::string(spec_.name) + " takes a test list in ( )");
        break;
      case TestArity::Block:
        if (spec_.op == Op::Else) {
          if (raw_.has_test) return at(raw_, "else takes no test");
        } else if (!raw_.has_test || raw_.test_list) {
          return at(raw_, std::string(spec_.name) + " needs one test");
        }
        if (!raw_.has_block) return at(raw_, std::string(spec_.name) + " needs a block { }");
        n_.block = std::move(raw_.block);
        break;
    }
    n_.tests = std::move(raw_.tests);
    return std::nullopt;
  }

  std::optional<Error> check_regexes(const std::vector<std::string>& keys, const RawArg& where) {
    if (n_.match != MatchType::Regex) return std::nullopt;
    for (const auto& k : keys) {
      if ((ext_ & kExtVariables) && has_variables(k)) continue;  // checked at run time
      RegexProgram p;
      if (auto e = compile_regex(k, n_.comparator == Comparator::AsciiCasemap, p))
        return at(where, "bad regex \"" + k + "\": " + *e);
    }
    return std::nullopt;
  }

  const RawArg& positional_arg(std::size_t k) const {
    std::size_t seen = 0;
    for (const auto& a : raw_.args)
      if (a.kind != RawArg::Tag && seen++ == k) return a;
    return raw_.args.back();
  }

  std::optional<Error> semantics() {
    if (seen_last_ && n_.index == 0 && !(spec_.groups & gLast))
      return at(raw_, ":last needs :index");
    if (n_.comparator == Comparator::AsciiNumeric &&
        (n_.match == MatchType::Contains || n_.match == MatchType::Matches || n_.match == MatchType::Regex))
      return at(raw_, "comparator \"i;ascii-numeric\" supports only :is, :value and :count");
    switch (spec_.op) {
      case Op::Require: {
        std::size_t k = 0;
        for (const auto& name : n_.args[0]) {
          bool found = false;
          for (const auto& e : kExtensions)
            if (e.name == name) { ext_ |= e.bits; found = true; }
          if (!found) return at(positional_arg(0), "unsupported extension \"" + name + "\"");
          ++k;
        }
        return std::nullopt;
      }
      case Op::Size:
        if (!(seen_ & gSize)) return at(raw_, "size needs :over or :under");
        return std::nullopt;
      case Op::Vacation:
        if (n_.has_days && n_.has_seconds) return at(raw_, "vacation takes :days or :seconds, not both");
        return std::nullopt;
      case Op::Set:
        if (!valid_variable_name(n_.args[0][0]))
          return at(positional_arg(0), "bad variable name \"" + n_.args[0][0] + "\"");
        return std::nullopt;
      case Op::SetFlag: case Op::AddFlag: case Op::RemoveFlag: case Op::HasFlag:
        for (const auto& v : n_.args[0])
          if (!valid_variable_name(v)) return at(positional_arg(0), "bad variable name \"" + v + "\"");
        if (spec_.op == Op::HasFlag) return check_regexes(n_.args[1], positional_arg(n_.args[0].empty() ? 0 : 1));
        return std::nullopt;
      case Op::AddHeader:
        if (!has_variables(n_.args[0][0]) && !valid_field_name(n_.args[0][0]))
          return at(positional_arg(0), "bad header field name \"" + n_.args[0][0] + "\"");
        return std::nullopt;
      case Op::DeleteHeader:
        if (!has_variables(n_.args[0][0]) && !valid_field_name(n_.args[0][0]))
          return at(positional_arg(0), "bad header field name \"" + n_.args[0][0] + "\"");
        if (n_.args.size() > 1) return check_regexes(n_.args[1], positional_arg(1));
        return std::nullopt;
      case Op::Envelope:
        for (const auto& p : n_.args[0]) {
          std::string l = p;
          for (auto& c : l) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
          if (l != "from" && l != "to" && !has_variables(p))
            return at(positional_arg(0), "unsupported envelope part \"" + p + "\"");
        }
        return check_regexes(n_.args[1], positional_arg(1));
      case Op::Date: case Op::CurrentDate: {
        std::size_t part = spec_.op == Op::Date ? 1 : 0;
        const std::string& p = n_.args[part][0];
        std::string l = p;
        for (auto& c : l) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        if (!has_variables(p) && !is_date_part(l)) return at(positional_arg(part), "unknown date-part \"" + p + "\"");
        return check_regexes(n_.args[part + 1], positional_arg(part + 1));
      }
      case Op::Address: case Op::Header: case Op::String:
        return check_regexes(n_.args[1], positional_arg(1));
      case Op::Body:
        return check_regexes(n_.args[0], positional_arg(0));
      default:
        return std::nullopt;
    }
  }

  RawNode& raw_;
  const Spec& spec_;
  unsigned& ext_;
  const Limits& limits_;
  Node& n_;
  unsigned seen_ = 0;
  unsigned vac_seen_ = 0;
  bool seen_last_ = false;
};

}  // namespace

std::optional<Error> validate(RawNode&& raw, unsigned& extensions, const Limits& limits, Node& out) {
  const Spec* spec = find_spec(raw.name);
  if (!spec || spec->is_test != raw.is_test) {
    if (spec && raw.is_test) return at(raw, "\"" + raw.name + "\" is a command, not a test");
    if (spec) return at(raw, "\"" + raw.name + "\" is a test, not a command");
    return at(raw, std::string("unknown ") + (raw.is_test ? "test" : "command") + " \"" + raw.name + "\"");
  }
  return Checker(raw, *spec, extensions, limits, out).run();
}

}  // namespace refmail::sieve::detail

// sieve/interpreter.cpp — runs a compiled Script over one Message (RFC 5228 2.10, 4, 5
// and the extensions): evaluates tests, collects actions, applies the implicit keep
// rule and the action conflicts (RFC 5429 2.1, RFC 5230 4.7), and turns every run-time
// failure into RFC 5228 2.10.6's implicit keep.
// SECURITY: the message and (through variables) its text are untrusted. Work is bounded
// by Limits: one step per command and test, match work in steps (kWorkPerStep units),
// action, redirect and variable counts, string sizes. Recursion follows the script's
// tree, whose depth compile() bounded.
#include <map>
#include <utility>

#include "mime/address.hpp"
#include "mime/rfc2047.hpp"
#include "sieve/ast_internal.hpp"
#include "sieve/date_internal.hpp"
#include "sieve/match_internal.hpp"
#include "sieve/variables_internal.hpp"

namespace refmail::sieve::detail {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

bool protected_field(std::string_view name) {
  // RFC 5293 6 (and 7): never add or delete trace and auto-reply marks.
  return iequals(name, "received") || iequals(name, "auto-submitted");
}

bool valid_field_name(std::string_view s) {
  if (s.empty() || s.size() > 998) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

std::string strip_angles(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

class Interpreter {
 public:
  Interpreter(const Script& s, const Message& m, const Context& c, const Limits& l)
      : script_(s), msg_(m), ctx_(c), lim_(l), vars_enabled_(s.extensions & kExtVariables) {}

  Outcome run() {
    exec(script_.commands);
    if (!error_) check_conflicts();
    Outcome out;
    out.steps = steps_;
    if (error_) {
      out.keep = true;
      out.runtime_error = error_;
      return out;
    }
    out.fileinto = std::move(fileinto_);
    out.redirects = std::move(redirects_);
    out.reject = std::move(reject_);
    out.ereject = ereject_;
    out.discard = discard_;
    out.vacation = std::move(vacation_);
    out.header_edits = std::move(edits_);
    out.keep = explicit_keep_ || implicit_keep_;
    if (explicit_keep_) out.keep_flags = keep_flags_;
    else if (implicit_keep_) out.keep_flags = flags_;
    return out;
  }

 private:
  // ---- budget and errors -------------------------------------------------------
  bool fail(std::string msg) {
    if (!error_) error_ = std::move(msg);
    return false;
  }
  bool step() {
    if (error_) return false;
    if (++steps_ > lim_.max_steps) return fail("step budget exceeded");
    return true;
  }
  bool action() {
    if (++actions_ > lim_.max_actions) return fail("too many actions");
    return true;
  }
  // Runs f(budget) with the remaining steps as work units, then charges what it used.
  template <class F>
  MatchResult with_budget(F&& f) {
    std::size_t left = steps_ >= lim_.max_steps ? 0 : (lim_.max_steps - steps_) * kWorkPerStep;
    std::size_t start = left;
    MatchResult r = f(left);
    steps_ += (start - left + kWorkPerStep - 1) / kWorkPerStep;
    if (r == MatchResult::Budget) fail("step budget exceeded while matching");
    if (r == MatchResult::BadRegex) fail("bad regular expression");
    return r;
  }

  std::string str(const std::string& s) {
    if (!vars_enabled_ || s.find("${") == std::string::npos) return s;
    return expand_variables(s, vars_, match_vars_, lim_.max_string_bytes);
  }
  std::vector<std::string> strs(const std::vector<std::string>& l) {
    std::vector<std::string> out;
    out.reserve(l.size());
    for (const auto& s : l) out.push_back(str(s));
    return out;
  }

  // ---- commands ----------------------------------------------------------------
  void exec(const std::vector<Node>& block) {
    bool chain_taken = false;  // an if/elsif of the current chain ran its block
    for (const Node& n : block) {
      if (stopped_ || error_) return;
      if (!step()) return;
      switch (n.op) {
        case Op::Require: break;
        case Op::If:
          chain_taken = false;
          [[fallthrough]];
        case Op::Elsif:
          if (chain_taken) break;
          if (test(n.tests[0])) {
            chain_taken = true;
            exec(n.block);
          }
          break;
        case Op::Else:
          if (!chain_taken) exec(n.block);
          chain_taken = true;
          break;
        case Op::Stop: stopped_ = true; return;
        case Op::Keep: keep(n); break;
        case Op::Discard: discard_ = true; implicit_keep_ = false; break;
        case Op::FileInto: fileinto(n); break;
        case Op::Redirect: redirect(n); break;
        case Op::Reject: case Op::Ereject: reject(n); break;
        case Op::Vacation: vacation(n); break;
        case Op::SetFlag: case Op::AddFlag: case Op::RemoveFlag: flags(n); break;
        case Op::Set: set(n); break;
        case Op::AddHeader: addheader(n); break;
        case Op::DeleteHeader: deleteheader(n); break;
        default: fail("test used as a command"); return;
      }
    }
  }

  std::vector<std::string> flags_for(const Node& n) {
    if (n.has_flags) return flag_list(strs(n.flags));
    return flags_;
  }

  void keep(const Node& n) {
    if (!action()) return;
    auto f = flags_for(n);
    if (explicit_keep_) {
      for (auto& x : f) keep_flags_.push_back(std::move(x));
      keep_flags_ = flag_list(keep_flags_);
    } else {
      keep_flags_ = std::move(f);
    }
    explicit_keep_ = true;
    implicit_keep_ = false;
  }

  void fileinto(const Node& n) {
    std::string mailbox = str(n.args[0][0]);
    if (mailbox.empty()) { fail("fileinto: empty mailbox name"); return; }
    // RFC 5490 3.2: without :create, a mailbox that does not exist is an error.
    if (!n.create && ctx_.mailbox_exists && !ctx_.mailbox_exists(mailbox)) {
      fail("fileinto: mailbox \"" + mailbox + "\" does not exist");
      return;
    }
    auto f = flags_for(n);
    if (!n.copy) implicit_keep_ = false;
    for (auto& fi : fileinto_) {
      if (fi.mailbox == mailbox) {  // RFC 5228 2.10.3: duplicates collapse
        for (auto& x : f) fi.flags.push_back(std::move(x));
        fi.flags = flag_list(fi.flags);
        fi.create = fi.create || n.create;
        return;
      }
    }
    if (!action()) return;
    fileinto_.push_back(FileInto{std::move(mailbox), std::move(f), n.create});
  }

  void redirect(const Node& n) {
    std::string address = strip_angles(str(n.args[0][0]));
    // RFC 5228 4.2: a syntactically valid address; refuse what could smuggle a second
    // recipient or a command into the envelope.
    bool ok = !address.empty() && address.size() <= 320 && address.find('@') != std::string::npos &&
              address.front() != '@' && address.back() != '@';
    for (char c : address)
      if (static_cast<unsigned char>(c) <= ' ' || c == ',' || c == '<' || c == '>' || c == 0x7f) ok = false;
    if (!ok) { fail("redirect: bad address \"" + address + "\""); return; }
    if (!n.copy) implicit_keep_ = false;
    for (const auto& r : redirects_)
      if (iequals(r.address, address)) return;  // duplicates collapse
    if (redirects_.size() >= lim_.max_redirects) { fail("too many redirects"); return; }
    if (!action()) return;
    redirects_.push_back(Redirect{std::move(address), n.copy});
  }

  void reject(const Node& n) {
    if (reject_) { fail("more than one reject"); return; }
    if (!action()) return;
    reject_ = str(n.args[0][0]);
    ereject_ = n.op == Op::Ereject;
    implicit_keep_ = false;
  }

  void vacation(const Node& n) {
    if (vacation_) { fail("more than one vacation"); return; }
    if (!action()) return;
    Vacation v;
    constexpr std::uint64_t kMaxPeriodDays = 3650;
    if (n.has_seconds) {
      v.period_seconds = static_cast<std::int64_t>(std::min<std::uint64_t>(n.period, kMaxPeriodDays * 86400));
    } else {
      // RFC 5230 4.1: default 7 days, at least 1.
      std::uint64_t d = n.has_days ? n.period : 7;
      d = std::max<std::uint64_t>(1, std::min(d, kMaxPeriodDays));
      v.period_seconds = static_cast<std::int64_t>(d * 86400);
    }
    v.reason = str(n.args[0][0]);
    if (n.subject) v.subject = str(*n.subject);
    if (n.from) v.from = str(*n.from);
    if (n.handle) v.handle = str(*n.handle);
    v.mime = n.mime;
    v.addresses = strs(n.addresses);
    vacation_ = std::move(v);
  }

  void flags(const Node& n) {
    if (!action()) return;
    auto given = flag_list(strs(n.args[1]));
    std::vector<std::string> current;
    std::string var;
    if (!n.args[0].empty()) {
      var = to_lower(n.args[0][0]);
      auto it = vars_.find(var);
      if (it != vars_.end()) current = flag_list({it->second});
    } else {
      current = flags_;
    }
    if (n.op == Op::SetFlag) {
      current = given;
    } else if (n.op == Op::AddFlag) {
      for (auto& g : given) current.push_back(std::move(g));
      current = flag_list(current);
    } else {
      std::vector<std::string> kept;
      for (auto& c : current) {
        bool drop = false;
        for (const auto& g : given)
          if (iequals(c, g)) drop = true;
        if (!drop) kept.push_back(std::move(c));
      }
      current = std::move(kept);
    }
    if (var.empty()) flags_ = std::move(current);
    else set_variable(var, join_flags(current));
  }

  void set_variable(const std::string& name, std::string value) {
    if (value.size() > lim_.max_string_bytes) value.resize(lim_.max_string_bytes);
    auto it = vars_.find(name);
    if (it == vars_.end() && vars_.size() >= lim_.max_variables) { fail("too many variables"); return; }
    vars_[name] = std::move(value);
  }

  void set(const Node& n) {
    set_variable(to_lower(n.args[0][0]), apply_modifiers(str(n.args[1][0]), n.modifiers));
  }

  // ---- editheader (RFC 5293) ---------------------------------------------------
  Fields& fields() {
    if (!edited_) edited_ = msg_.headers();
    return *edited_;
  }

  void addheader(const Node& n) {
    std::string name = str(n.args[0][0]);
    if (!valid_field_name(name)) { fail("addheader: bad field name \"" + name + "\""); return; }
    if (protected_field(name)) return;
    if (!action()) return;
    std::string value = str(n.args[1][0]);
    for (auto& c : value)
      if (c == '\r' || c == '\n') c = ' ';  // RFC 5293 4: the value is unstructured text
    // RFC 5293 4: non-ASCII values go out as RFC 2047 encoded-words.
    value = mime::encode_rfc2047(value, mime::EncodeContext::Text, name.size() + 2);
    auto& f = fields();
    if (n.last) f.emplace_back(name, value);
    else f.emplace(f.begin(), name, value);
    edits_.push_back(HeaderEdit{HeaderEdit::add, std::move(name), std::move(value), n.last, 0});
  }

  void deleteheader(const Node& n) {
    std::string name = str(n.args[0][0]);
    if (!valid_field_name(name)) { fail("deleteheader: bad field name \"" + name + "\""); return; }
    if (protected_field(name)) return;
    auto& f = fields();
    std::vector<std::size_t> positions;  // indexes into f of the fields named `name`
    for (std::size_t i = 0; i < f.size(); ++i)
      if (iequals(f[i].first, name)) positions.push_back(i);
    std::vector<std::size_t> occ;  // occurrence numbers (0-based) selected by :index
    if (n.index) {
      if (n.index > positions.size()) return;
      occ.push_back(n.last ? positions.size() - n.index : n.index - 1);
    } else {
      for (std::size_t k = 0; k < positions.size(); ++k) occ.push_back(k);
    }
    std::vector<std::size_t> doomed;
    for (auto k : occ) {
      if (n.args.size() > 1) {
        if (!step()) return;
        std::vector<std::string> one{mime::decode_rfc2047(f[positions[k]].second)};
        if (!match_keys(n, one, strs(n.args[1]))) {
          if (error_) return;
          continue;
        }
      }
      doomed.push_back(k);
    }
    for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {
      if (!action()) return;
      std::size_t at = positions[*it];
      edits_.push_back(HeaderEdit{HeaderEdit::remove, f[at].first, f[at].second, false, *it + 1});
      f.erase(f.begin() + static_cast<std::ptrdiff_t>(at));
    }
  }

  // ---- tests -------------------------------------------------------------------
  std::vector<std::string> raw_header(const std::string& name) {
    if (!edited_) return msg_.header(name);
    std::vector<std::string> out;
    for (const auto& [k, v] : *edited_)
      if (iequals(k, name)) out.push_back(v);
    return out;
  }

  // RFC 5260 6: :index N counts occurrences of one field name from the top (or with
  // :last from the bottom).
  std::vector<std::string> select(const Node& n, std::vector<std::string> v) {
    if (!n.index) return v;
    if (n.index > v.size()) return {};
    return {std::move(v[n.last ? v.size() - n.index : n.index - 1])};
  }

  // True if any value matches any key (or, for :count, the count compares).
  bool match_keys(const Node& n, const std::vector<std::string>& values, const std::vector<std::string>& keys) {
    if (n.match == MatchType::Count) {
      std::string count = std::to_string(values.size());
      for (const auto& k : keys) {
        auto r = with_budget([&](std::size_t& b) {
          return match(MatchType::Value, n.relop, n.comparator, count, k, nullptr, b);
        });
        if (r == MatchResult::Yes) return true;
        if (error_) return false;
      }
      return false;
    }
    std::vector<std::string> caps;
    bool want = vars_enabled_ && (n.match == MatchType::Matches || n.match == MatchType::Regex);
    for (const auto& v : values) {
      for (const auto& k : keys) {
        auto r = with_budget([&](std::size_t& b) {
          return match(n.match, n.relop, n.comparator, v, k, want ? &caps : nullptr, b);
        });
        if (r == MatchResult::Yes) {
          if (want) match_vars_ = std::move(caps);  // RFC 5229 3.2: set on success only
          return true;
        }
        if (error_) return false;
      }
    }
    return false;
  }

  std::vector<std::string> address_values(const Node& n, const std::vector<std::string>& emails) {
    std::vector<std::string> out;
    for (const auto& e : emails) {
      auto at = e.rfind('@');
      std::string local = at == std::string::npos ? e : e.substr(0, at);
      std::string domain = at == std::string::npos ? std::string() : e.substr(at + 1);
      switch (n.part) {
        case AddressPart::All: out.push_back(e); break;
        case AddressPart::LocalPart: out.push_back(local); break;
        case AddressPart::Domain: out.push_back(domain); break;
        case AddressPart::User: out.push_back(local.substr(0, local.find('+'))); break;
        case AddressPart::Detail: {
          // RFC 5233 4: no separator, no detail: the address does not match.
          auto plus = local.find('+');
          if (plus != std::string::npos) out.push_back(local.substr(plus + 1));
          break;
        }
      }
    }
    return out;
  }

  const std::vector<std::string>& body(BodyTransform t, const std::vector<std::string>& types) {
    std::string key = t == BodyTransform::Raw ? std::string("\x01raw") : join_flags(types) + "\x02";
    if (t == BodyTransform::Content) {
      key.clear();
      for (const auto& s : types) { key += s; key.push_back('\0'); }
    }
    auto it = body_cache_.find(key);
    if (it != body_cache_.end()) return it->second;
    std::vector<std::string> v;
    if (t == BodyTransform::Raw) v.push_back(msg_.body_raw());
    else v = msg_.body_text(types);
    return body_cache_.emplace(key, std::move(v)).first->second;
  }

  bool test(const Node& n) {
    if (!step()) return false;
    switch (n.op) {
      case Op::True: return true;
      case Op::False: return false;
      case Op::Not: { bool r = test(n.tests[0]); return error_ ? false : !r; }
      case Op::AllOf:
        for (const auto& t : n.tests) {
          if (!test(t)) return false;
        }
        return true;
      case Op::AnyOf:
        for (const auto& t : n.tests) {
          if (test(t)) return true;
          if (error_) return false;
        }
        return false;
      case Op::Exists:
        for (const auto& h : strs(n.args[0]))
          if (raw_header(h).empty()) return false;
        return true;
      case Op::Size: return n.over ? msg_.size() > n.number : msg_.size() < n.number;
      case Op::Header: {
        std::vector<std::string> values;
        for (const auto& h : strs(n.args[0])) {
          for (auto& v : select(n, raw_header(h))) {
            if (!step()) return false;
            values.push_back(mime::decode_rfc2047(v));  // RFC 5228 2.7.2
          }
        }
        return match_keys(n, values, strs(n.args[1]));
      }
      case Op::Address: {
        std::vector<std::string> emails;
        for (const auto& h : strs(n.args[0])) {
          for (auto& v : select(n, raw_header(h))) {
            if (!step()) return false;
            for (auto& a : mime::parse_address_list(v, 256)) emails.push_back(std::move(a.email));
          }
        }
        return match_keys(n, address_values(n, emails), strs(n.args[1]));
      }
      case Op::Envelope: {
        std::vector<std::string> emails;
        for (const auto& p : strs(n.args[0])) {
          std::string part = to_lower(p);
          if (part == "from") emails.push_back(strip_angles(msg_.envelope_from()));
          else if (part == "to") emails.push_back(strip_angles(msg_.envelope_to()));
          else return fail("envelope: unsupported part \"" + p + "\"");
        }
        // RFC 5228 5.4: the null reverse-path is the empty string for every part.
        std::vector<std::string> values;
        for (const auto& e : emails) {
          if (e.empty()) values.emplace_back();
          else for (auto& v : address_values(n, {e})) values.push_back(std::move(v));
        }
        return match_keys(n, values, strs(n.args[1]));
      }
      case Op::Body: {
        // RFC 5173 5: :text is the text parts (as :content "text").
        std::vector<std::string> types =
            n.transform == BodyTransform::Text ? std::vector<std::string>{"text"} : strs(n.content_types);
        return match_keys(n, body(n.transform, types), strs(n.args[0]));
      }
      case Op::Date: case Op::CurrentDate: return date(n);
      case Op::MailboxExists:
        for (const auto& mb : strs(n.args[0]))
          if (!ctx_.mailbox_exists || !ctx_.mailbox_exists(mb)) return false;
        return true;
      case Op::HasFlag: {
        std::vector<std::string> have;
        if (n.args[0].empty()) {
          have = flags_;
        } else {
          std::vector<std::string> raw;
          for (const auto& name : n.args[0]) {
            auto it = vars_.find(to_lower(name));
            if (it != vars_.end()) raw.push_back(it->second);
          }
          have = flag_list(raw);
        }
        return match_keys(n, have, strs(n.args[1]));
      }
      case Op::String: {
        auto values = strs(n.args[0]);
        if (n.match == MatchType::Count) {  // RFC 5229 5: only non-empty strings count
          std::vector<std::string> nonempty;
          for (auto& v : values)
            if (!v.empty()) nonempty.push_back(std::move(v));
          values = std::move(nonempty);
        }
        return match_keys(n, values, strs(n.args[1]));
      }
      default: return fail("command used as a test");
    }
  }

  bool date(const Node& n) {
    std::optional<int> zone;
    if (n.zone_mode == ZoneMode::Zone) {
      zone = parse_zone(str(n.zone));
      if (!zone) return fail("date: bad zone");
    } else if (n.zone_mode == ZoneMode::Local) {
      zone = ctx_.tz_offset_minutes;
    }
    std::size_t part_arg = n.op == Op::Date ? 1 : 0;
    std::string part = to_lower(str(n.args[part_arg][0]));
    if (!is_date_part(part)) return fail("date: unknown date-part \"" + part + "\"");
    std::vector<std::string> values;
    if (n.op == Op::CurrentDate) {
      values.push_back(date_part(ZonedTime{ctx_.now_unix, *zone}, part));
    } else {
      for (const auto& v : select(n, raw_header(str(n.args[0][0])))) {
        if (!step()) return false;
        auto t = parse_date_header(v);
        if (!t) continue;  // RFC 5260 5: an unparseable date does not match
        if (zone) t->offset_minutes = *zone;
        values.push_back(date_part(*t, part));
      }
    }
    return match_keys(n, values, strs(n.args[part_arg + 1]));
  }

  // ---- conflicts ---------------------------------------------------------------
  void check_conflicts() {
    if (reject_) {
      // RFC 5429 2.1: reject/ereject cannot be combined with fileinto or keep;
      // RFC 5230 4.7: nor with vacation.
      if (explicit_keep_ || !fileinto_.empty()) fail("reject cannot be combined with fileinto or keep");
      else if (vacation_) fail("reject cannot be combined with vacation");
    }
  }

  const Script& script_;
  const Message& msg_;
  const Context& ctx_;
  const Limits& lim_;
  const bool vars_enabled_;
  std::size_t steps_ = 0, actions_ = 0;
  std::optional<std::string> error_;
  bool stopped_ = false;
  bool implicit_keep_ = true, explicit_keep_ = false, discard_ = false;
  std::vector<std::string> keep_flags_, flags_;
  std::vector<FileInto> fileinto_;
  std::vector<Redirect> redirects_;
  std::optional<std::string> reject_;
  bool ereject_ = false;
  std::optional<Vacation> vacation_;
  std::vector<HeaderEdit> edits_;
  std::optional<Fields> edited_;
  std::map<std::string, std::string> vars_;
  std::vector<std::string> match_vars_;
  std::map<std::string, std::vector<std::string>> body_cache_;
};

}  // namespace

Outcome interpret(const Script& s, const Message& m, const Context& c, const Limits& l) {
  return Interpreter(s, m, c, l).run();
}

}  // namespace refmail::sieve::detail

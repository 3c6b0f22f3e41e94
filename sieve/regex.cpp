// sieve/regex.cpp — POSIX ERE parser and Pike VM (see regex_internal.hpp). The parser
// recurses only on parentheses (bounded by kMaxDepth); the VM keeps an explicit stack
// and visits each (instruction, position) pair at most once, so a match costs at most
// O(text x program) steps, all charged to the budget: "(a+)+b" cannot blow up.
#include <algorithm>
#include <memory>

#include "sieve/regex_internal.hpp"

namespace refmail::sieve::detail {
namespace {

constexpr std::size_t kMaxDepth = 64;
constexpr std::size_t kMaxRepeat = 255;       // RE_DUP_MAX
constexpr std::size_t kCaptureGroups = 9;     // ${1}..${9}; deeper groups do not capture
constexpr std::size_t kSlots = 2 * (kCaptureGroups + 1);

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

struct Ast {
  enum Kind { Empty, Char, Any, Class, Bol, Eol, Group, Concat, Alt, Repeat } kind = Empty;
  char c = 0;
  std::size_t cls = 0, group = 0, min = 0, max = 0;  // max == SIZE_MAX: unbounded
  std::vector<std::unique_ptr<Ast>> kids;
};
using AstPtr = std::unique_ptr<Ast>;

class ReParser {
 public:
  ReParser(std::string_view p, bool icase, RegexProgram& prog) : p_(p), icase_(icase), prog_(prog) {}

  std::optional<std::string> parse(AstPtr& out) {
    out = alt(0);
    if (err_) return err_;
    if (i_ < p_.size()) return std::string("unmatched ')'");
    return std::nullopt;
  }

 private:
  AstPtr make(Ast::Kind k) { auto a = std::make_unique<Ast>(); a->kind = k; return a; }

  AstPtr alt(std::size_t depth) {
    auto first = concat(depth);
    if (i_ >= p_.size() || p_[i_] != '|') return first;
    auto a = make(Ast::Alt);
    a->kids.push_back(std::move(first));
    while (!err_ && i_ < p_.size() && p_[i_] == '|') {
      ++i_;
      a->kids.push_back(concat(depth));
    }
    return a;
  }

  AstPtr concat(std::size_t depth) {
    auto a = make(Ast::Concat);
    while (!err_ && i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      auto atom_ = atom(depth);
      if (err_) break;
      postfix(atom_);
      a->kids.push_back(std::move(atom_));
    }
    return a;
  }

  bool bound(std::size_t& min, std::size_t& max) {
    // '{' m [',' [n]] '}'; anything else: not a bound, '{' is literal
    std::size_t j = i_ + 1;
    auto num = [&](std::size_t& v) {
      std::size_t start = j;
      v = 0;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9' && j - start < 4) v = v * 10 + static_cast<std::size_t>(p_[j++] - '0');
      return j > start;
    };
    if (!num(min)) return false;
    max = min;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (!num(max)) max = SIZE_MAX;
    }
    if (j >= p_.size() || p_[j] != '}') return false;
    i_ = j + 1;
    return true;
  }

  void postfix(AstPtr& a) {
    while (!err_ && i_ < p_.size()) {
      std::size_t min = 0, max = 0;
      char c = p_[i_];
      if (c == '*') { min = 0; max = SIZE_MAX; ++i_; }
      else if (c == '+') { min = 1; max = SIZE_MAX; ++i_; }
      else if (c == '?') { min = 0; max = 1; ++i_; }
      else if (c == '{' && bound(min, max)) {
        if (min > kMaxRepeat || (max != SIZE_MAX && (max > kMaxRepeat || max < min))) {
          err_ = "bad repetition count";
          return;
        }
      } else {
        return;
      }
      if (++repeats_ > 4 * kMaxDepth) { err_ = "too many repetitions"; return; }
      auto r = make(Ast::Repeat);
      r->min = min;
      r->max = max;
      r->kids.push_back(std::move(a));
      a = std::move(r);
    }
  }

  std::size_t new_class() {
    prog_.classes.emplace_back(256, false);
    return prog_.classes.size() - 1;
  }
  void set(std::size_t cls, unsigned char c) {
    prog_.classes[cls][c] = true;
    if (icase_) {
      if (c >= 'A' && c <= 'Z') prog_.classes[cls][c - 'A' + 'a'] = true;
      if (c >= 'a' && c <= 'z') prog_.classes[cls][c - 'a' + 'A'] = true;
    }
  }

  bool named_class(std::string_view name, std::size_t cls) {
    auto add_if = [&](auto pred) { for (int c = 0; c < 128; ++c) if (pred(c)) set(cls, static_cast<unsigned char>(c)); };
    auto alpha = [](int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    auto digit = [](int c) { return c >= '0' && c <= '9'; };
    if (name == "alpha") add_if(alpha);
    else if (name == "digit") add_if(digit);
    else if (name == "alnum") add_if([&](int c) { return alpha(c) || digit(c); });
    else if (name == "upper") add_if([](int c) { return c >= 'A' && c <= 'Z'; });
    else if (name == "lower") add_if([](int c) { return c >= 'a' && c <= 'z'; });
    else if (name == "space") add_if([](int c) { return c == ' ' || (c >= 9 && c <= 13); });
    else if (name == "blank") add_if([](int c) { return c == ' ' || c == '\t'; });
    else if (name == "punct") add_if([&](int c) { return c > 32 && c < 127 && !alpha(c) && !digit(c); });
    else if (name == "print") add_if([](int c) { return c >= 32 && c < 127; });
    else if (name == "graph") add_if([](int c) { return c > 32 && c < 127; });
    else if (name == "cntrl") add_if([](int c) { return c < 32 || c == 127; });
    else if (name == "xdigit") add_if([&](int c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
    else return false;
    return true;
  }

  AstPtr bracket() {
    // after '['
    std::size_t cls = new_class();
    bool negate = false;
    if (i_ < p_.size() && p_[i_] == '^') { negate = true; ++i_; }
    bool first = true;
    for (;;) {
      if (i_ >= p_.size()) { err_ = "unterminated [ ]"; return nullptr; }
      char c = p_[i_];
      if (c == ']' && !first) { ++i_; break; }
      first = false;
      if (c == '[' && i_ + 1 < p_.size() && (p_[i_ + 1] == ':' || p_[i_ + 1] == '=' || p_[i_ + 1] == '.')) {
        char kind = p_[i_ + 1];
        std::size_t end = p_.find(std::string{kind, ']'}, i_ + 2);
        if (end == std::string_view::npos) { err_ = "unterminated [: :]"; return nullptr; }
        std::string_view name = p_.substr(i_ + 2, end - i_ - 2);
        i_ = end + 2;
        if (kind == ':') {
          if (!named_class(name, cls)) { err_ = "unknown character class"; return nullptr; }
        } else {
          if (name.size() != 1) { err_ = "unsupported collating element"; return nullptr; }
          set(cls, static_cast<unsigned char>(name[0]));
        }
        continue;
      }
      ++i_;
      unsigned char lo = static_cast<unsigned char>(c), hi = lo;
      if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        hi = static_cast<unsigned char>(p_[i_ + 1]);
        i_ += 2;
        if (hi < lo) { err_ = "bad range in [ ]"; return nullptr; }
      }
      for (unsigned v = lo; v <= hi; ++v) set(cls, static_cast<unsigned char>(v));
    }
    if (negate)
      for (auto&& b : prog_.classes[cls]) b = !b;
    auto a = make(Ast::Class);
    a->cls = cls;
    return a;
  }

  AstPtr atom(std::size_t depth) {
    char c = p_[i_++];
    switch (c) {
      case '(': {
        if (depth + 1 > kMaxDepth) { err_ = "parentheses nested too deeply"; return nullptr; }
        auto g = make(Ast::Group);
        g->group = ++groups_;
        if (groups_ > kMaxRegexGroups) { err_ = "too many groups"; return nullptr; }
        g->kids.push_back(alt(depth + 1));
        if (err_) return nullptr;
        if (i_ >= p_.size() || p_[i_] != ')') { err_ = "unmatched '('"; return nullptr; }
        ++i_;
        return g;
      }
      case '[': return bracket();
      case '.': return make(Ast::Any);
      case '^': return make(Ast::Bol);
      case '$': return make(Ast::Eol);
      case '\\':
        if (i_ >= p_.size()) { err_ = "trailing backslash"; return nullptr; }
        c = p_[i_++];
        break;
      default: break;
    }
    auto a = make(Ast::Char);
    a->c = icase_ ? fold(c) : c;
    return a;
  }

 public:
  std::size_t groups_ = 0;

 private:
  std::string_view p_;
  bool icase_;
  RegexProgram& prog_;
  std::size_t i_ = 0;
  std::size_t repeats_ = 0;
  std::optional<std::string> err_;
};

class Emitter {
 public:
  explicit Emitter(RegexProgram& p) : p_(p) {}
  bool emit(const Ast& a, std::size_t depth) {
    if (depth > 4 * kMaxDepth + kMaxDepth) return false;
    if (p_.code.size() > kMaxRegexProgram) return false;
    switch (a.kind) {
      case Ast::Empty: return true;
      case Ast::Char: push({RegexInst::Char, static_cast<std::uint8_t>(a.c), 0, 0}); return true;
      case Ast::Any: push({RegexInst::Any, 0, 0, 0}); return true;
      case Ast::Class: push({RegexInst::Class, 0, static_cast<std::uint32_t>(a.cls), 0}); return true;
      case Ast::Bol: push({RegexInst::Bol, 0, 0, 0}); return true;
      case Ast::Eol: push({RegexInst::Eol, 0, 0, 0}); return true;
      case Ast::Group: {
        bool cap = a.group <= kCaptureGroups;
        if (cap) push({RegexInst::Save, 0, static_cast<std::uint32_t>(2 * a.group), 0});
        if (!emit(*a.kids[0], depth + 1)) return false;
        if (cap) push({RegexInst::Save, 0, static_cast<std::uint32_t>(2 * a.group + 1), 0});
        return true;
      }
      case Ast::Concat:
        for (const auto& k : a.kids)
          if (!emit(*k, depth + 1)) return false;
        return true;
      case Ast::Alt: {
        std::vector<std::size_t> jumps;
        for (std::size_t k = 0; k < a.kids.size(); ++k) {
          if (k + 1 < a.kids.size()) {
            std::size_t split = push({RegexInst::Split, 0, 0, 0});
            p_.code[split].x = static_cast<std::uint32_t>(p_.code.size());
            if (!emit(*a.kids[k], depth + 1)) return false;
            jumps.push_back(push({RegexInst::Jmp, 0, 0, 0}));
            p_.code[split].y = static_cast<std::uint32_t>(p_.code.size());
          } else if (!emit(*a.kids[k], depth + 1)) {
            return false;
          }
        }
        for (auto j : jumps) p_.code[j].x = static_cast<std::uint32_t>(p_.code.size());
        return true;
      }
      case Ast::Repeat: {
        for (std::size_t k = 0; k < a.min; ++k)
          if (!emit(*a.kids[0], depth + 1) || p_.code.size() > kMaxRegexProgram) return false;
        if (a.max == SIZE_MAX) {
          std::size_t split = push({RegexInst::Split, 0, 0, 0});
          p_.code[split].x = static_cast<std::uint32_t>(p_.code.size());
          if (!emit(*a.kids[0], depth + 1)) return false;
          push({RegexInst::Jmp, 0, static_cast<std::uint32_t>(split), 0});
          p_.code[split].y = static_cast<std::uint32_t>(p_.code.size());
          return true;
        }
        std::vector<std::size_t> splits;
        for (std::size_t k = a.min; k < a.max; ++k) {
          splits.push_back(push({RegexInst::Split, 0, 0, 0}));
          p_.code[splits.back()].x = static_cast<std::uint32_t>(p_.code.size());
          if (!emit(*a.kids[0], depth + 1) || p_.code.size() > kMaxRegexProgram) return false;
        }
        for (auto s : splits) p_.code[s].y = static_cast<std::uint32_t>(p_.code.size());
        return true;
      }
    }
    return false;
  }
  std::size_t push(RegexInst i) {
    p_.code.push_back(i);
    return p_.code.size() - 1;
  }

 private:
  RegexProgram& p_;
};

}  // namespace

std::optional<std::string> compile_regex(std::string_view pattern, bool icase, RegexProgram& out) {
  out = RegexProgram{};
  AstPtr ast;
  ReParser parser(pattern, icase, out);
  if (auto e = parser.parse(ast)) return e;
  out.groups = std::min(parser.groups_, kCaptureGroups);
  Emitter em(out);
  em.push({RegexInst::Save, 0, 0, 0});
  if (!em.emit(*ast, 0) || out.code.size() > kMaxRegexProgram) return std::string("regex too large");
  em.push({RegexInst::Save, 0, 1, 0});
  em.push({RegexInst::Match, 0, 0, 0});
  // The AST is destroyed recursively; its depth is bounded by the parser's limits.
  return std::nullopt;
}

namespace {

struct ThreadList {
  std::vector<std::uint32_t> pcs;
  std::vector<std::size_t> caps;  // kSlots per entry
};

}  // namespace

RegexResult regex_search(const RegexProgram& prog, std::string_view text, bool icase,
                         std::vector<std::string>* captures, std::size_t& budget) {
  const std::size_t n = prog.code.size();
  if (n == 0) return RegexResult::NoMatch;
  ThreadList clist, nlist;
  clist.pcs.reserve(n);
  nlist.pcs.reserve(n);
  std::vector<std::size_t> visited(n, SIZE_MAX);
  std::vector<std::size_t> best;
  bool matched = false;
  struct Entry { std::uint32_t pc; int slot; std::size_t val; };
  std::vector<Entry> stack;
  std::vector<std::size_t> caps(kSlots);

  // Follows the empty-width instructions from pc at text position `pos` with `start`
  // captures, appending the threads that consume input (or Match) to `list`.
  auto add = [&](ThreadList& list, std::uint32_t pc0, const std::size_t* start, std::size_t pos) -> bool {
    std::copy(start, start + kSlots, caps.begin());
    stack.clear();
    stack.push_back({pc0, -1, 0});
    while (!stack.empty()) {
      Entry e = stack.back();
      stack.pop_back();
      if (e.slot >= 0) { caps[static_cast<std::size_t>(e.slot)] = e.val; continue; }
      if (visited[e.pc] == pos) continue;
      visited[e.pc] = pos;
      if (budget == 0) return false;
      --budget;
      const RegexInst& in = prog.code[e.pc];
      switch (in.kind) {
        case RegexInst::Jmp: stack.push_back({in.x, -1, 0}); break;
        case RegexInst::Split:
          stack.push_back({in.y, -1, 0});
          stack.push_back({in.x, -1, 0});
          break;
        case RegexInst::Save:
          stack.push_back({0, static_cast<int>(in.x), caps[in.x]});
          caps[in.x] = pos;
          stack.push_back({e.pc + 1, -1, 0});
          break;
        case RegexInst::Bol: if (pos == 0) stack.push_back({e.pc + 1, -1, 0}); break;
        case RegexInst::Eol: if (pos == text.size()) stack.push_back({e.pc + 1, -1, 0}); break;
        default:
          list.pcs.push_back(e.pc);
          list.caps.insert(list.caps.end(), caps.begin(), caps.end());
      }
    }
    return true;
  };

  std::vector<std::size_t> init(kSlots, SIZE_MAX);
  for (std::size_t pos = 0;; ++pos) {
    if (!matched) {
      // A new thread starting here has the lowest priority: leftmost match first.
      if (!add(clist, 0, init.data(), pos)) return RegexResult::Budget;
    }
    if (clist.pcs.empty()) break;
    nlist.pcs.clear();
    nlist.caps.clear();
    char ch = pos < text.size() ? text[pos] : '\0';
    if (icase) ch = fold(ch);
    for (std::size_t t = 0; t < clist.pcs.size(); ++t) {
      if (budget == 0) return RegexResult::Budget;
      --budget;
      const RegexInst& in = prog.code[clist.pcs[t]];
      const std::size_t* tc = clist.caps.data() + t * kSlots;
      bool step = false;
      switch (in.kind) {
        case RegexInst::Match:
          matched = true;
          best.assign(tc, tc + kSlots);
          t = clist.pcs.size();  // cut the lower-priority threads
          continue;
        case RegexInst::Char: step = pos < text.size() && static_cast<std::uint8_t>(ch) == in.c; break;
        case RegexInst::Any: step = pos < text.size(); break;
        case RegexInst::Class:
          step = pos < text.size() && prog.classes[in.x][static_cast<unsigned char>(text[pos])];
          break;
        default: break;
      }
      if (step && !add(nlist, clist.pcs[t] + 1, tc, pos + 1)) return RegexResult::Budget;
    }
    std::swap(clist, nlist);
    if (pos >= text.size()) {
      // Threads in clist now sit past the end: only Match can still fire.
      for (std::size_t t = 0; t < clist.pcs.size(); ++t) {
        if (prog.code[clist.pcs[t]].kind == RegexInst::Match) {
          matched = true;
          best.assign(clist.caps.data() + t * kSlots, clist.caps.data() + (t + 1) * kSlots);
          break;
        }
      }
      break;
    }
  }
  if (!matched) return RegexResult::NoMatch;
  if (captures) {
    captures->assign(prog.groups + 1, std::string());
    for (std::size_t g = 0; g <= prog.groups; ++g) {
      std::size_t a = best[2 * g], b = best[2 * g + 1];
      if (a != SIZE_MAX && b != SIZE_MAX && a <= b && b <= text.size()) (*captures)[g] = std::string(text.substr(a, b - a));
    }
  }
  return RegexResult::Match;
}

}  // namespace refmail::sieve::detail

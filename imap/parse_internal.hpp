// imap/parse_internal.hpp — PRIVATE to the parse_*.cpp files: the tokenizer over a
// RawCommand (RFC 9051 9 tokens) and the recursive-descent parser's shared state.
// Must never: be included outside imap/parse_*.cpp and imap/lexer.cpp. Every
// recursive rule goes through Parser::Depth, which fails past options.max_depth.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "imap/parser.hpp"

namespace refmail::imap::detail {

class Parser {
 public:
  Parser(const RawCommand& raw, const ParseOptions& o) : raw_(raw), opt_(o) {}
  [[nodiscard]] boost::system::result<Command, ParseError> run();

  // ---- tokens (lexer.cpp). Each returns false / nullopt and records an error.
  bool fail(std::string text, errc code = errc::syntax);
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] int peek() const;  // -1 at the end of a line
  bool eat(char c);
  bool sp();
  bool at_end() const;
  bool end();  // requires at_end()
  // A case-insensitive word followed by a non-atom char (or end); consumed if matched.
  bool word(std::string_view w);
  std::optional<std::string> atom();           // 1*ATOM-CHAR
  std::optional<std::string> astring();        // 1*ASTRING-CHAR / string
  std::optional<std::string> string();         // quoted / literal
  std::optional<std::optional<std::string>> nstring();
  std::optional<std::string> list_mailbox();   // 1*list-char / string
  std::optional<std::uint64_t> number64();
  std::optional<std::uint32_t> number();
  std::optional<std::uint32_t> nz_number();
  std::optional<std::string> mailbox();        // astring, decoded (mUTF-7 / UTF-8), INBOX
  std::optional<std::string> decode_mailbox(std::string s);  // mUTF-7 or UTF-8 -> UTF-8
  std::optional<std::string> flag();           // "\" atom / atom
  std::optional<FlagList> flag_list();         // "(" [flag *(SP flag)] ")"
  std::optional<SequenceSet> sequence_set();
  std::optional<Date> date();                  // date-text / DQUOTE date-text DQUOTE
  // One more list element or search key in this command; fails past max_items.
  bool count_item();
  // Literal announcement at the cursor: consumes it and returns literal i.
  const RawLiteral* literal(bool allow_binary);
  [[nodiscard]] bool at_literal() const;

  struct Depth {  // RAII guard for recursive rules
    Parser& p;
    bool ok;
    explicit Depth(Parser& parser) : p(parser), ok(++parser.depth_ <= parser.opt_.max_depth) {
      if (!ok) parser.fail("Nested too deeply", errc::too_deep);
    }
    ~Depth() { --p.depth_; }
  };

  // ---- commands (parse_command.cpp, parse_mailbox.cpp, parse_search.cpp, parse_fetch.cpp)
  std::optional<CommandBody> command(const std::string& name, bool uid);
  std::optional<CommandBody> authenticate();
  std::optional<CommandBody> enable();
  std::optional<CommandBody> id();
  std::optional<CommandBody> select(bool examine);
  std::optional<CommandBody> create();
  std::optional<CommandBody> list();
  std::optional<CommandBody> lsub();
  std::optional<CommandBody> status();
  std::optional<CommandBody> append();
  std::optional<CommandBody> setquota();
  std::optional<std::vector<StatusItem>> status_items();
  std::optional<CommandBody> search(bool uid);
  std::optional<CommandBody> sort(bool uid);
  std::optional<CommandBody> thread(bool uid);
  std::optional<SearchKey> search_program(bool allow_charset, std::optional<std::string>* charset);
  bool search_key(SearchKey& out);
  std::optional<CommandBody> fetch(bool uid);
  bool fetch_att(std::vector<FetchAtt>& out);
  std::optional<Section> section(bool binary);
  std::optional<CommandBody> store(bool uid);
  std::optional<CommandBody> copy(bool uid, bool move);
  std::optional<CommandBody> expunge(bool uid);

  const ParseOptions& options() const { return opt_; }

 private:
  const RawCommand& raw_;
  const ParseOptions& opt_;
  std::size_t seg_ = 0;  // line index
  std::size_t pos_ = 0;  // byte in raw_.lines[seg_]
  std::size_t depth_ = 0;
  std::size_t items_ = 0;
  bool failed_ = false;
  ParseError error_;
  std::string tag_;
  std::string_view line() const { return raw_.lines[seg_]; }
};

[[nodiscard]] std::string upper(std::string_view s);
[[nodiscard]] bool is_atom_char(unsigned char c);
[[nodiscard]] bool is_astring_char(unsigned char c);

}  // namespace refmail::imap::detail

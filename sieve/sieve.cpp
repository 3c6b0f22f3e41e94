// sieve/sieve.cpp — the public entry points: compile(), run(), capabilities().
#include "sieve/sieve.hpp"

#include "sieve/ast_internal.hpp"

namespace refmail::sieve {
namespace detail {
Outcome interpret(const Script& s, const Message& m, const Context& c, const Limits& l);
}

Compiled compile(std::string_view source, const Limits& limits) { return detail::parse_script(source, limits); }

std::string_view capabilities() {
  return "body comparator-i;ascii-numeric copy date editheader encoded-character envelope ereject fileinto imap4flags index "
         "mailbox regex reject relational subaddress vacation vacation-seconds variables";
}

Outcome run(const Script& script, const Message& message, const Context& context, const Limits& limits) {
  return detail::interpret(script, message, context, limits);
}

}  // namespace refmail::sieve

// smtp/envelope.cpp — Envelope helpers.
#include "smtp/envelope.hpp"

namespace refmail::smtp {

std::string Envelope::with_protocol() const {
  if (!esmtp) return "SMTP";
  std::string p = params.smtputf8 ? "UTF8SMTP" : "ESMTP";  // RFC 6531 7.7
  if (tls) p += 'S';
  if (auth_user) p += 'A';
  return p;
}

}  // namespace refmail::smtp

// smtp/envelope.hpp — what the session knows about one mail transaction, handed to the
// server with the message bytes (Action Deliver). Plain data, owned by value.
// SECURITY: every field is peer-controlled except tls, auth_user (server-confirmed),
// and ehlo_domain (peer-claimed, never verified here).
#pragma once

#include "smtp/address.hpp"
#include "smtp/params.hpp"

#include <any>
#include <optional>
#include <string>
#include <vector>

namespace refmail::smtp {

struct Recipient {
  Address address;
  RcptParams dsn;  // NOTIFY / ORCPT (RFC 3461)
  // What the server decided for this recipient (Session::recipient_result), carried
  // with it to Deliver; opaque to the session. Not part of equality.
  std::any route;

  friend bool operator==(const Recipient& a, const Recipient& b) {
    return a.address == b.address && a.dsn == b.dsn;
  }
};

struct Envelope {
  Address mail_from;                    // null for "<>"
  MailParams params;                    // SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH=
  std::vector<Recipient> rcpt_to;       // accepted recipients only, in order, no duplicates
  std::string ehlo_domain;              // as sent with EHLO/HELO
  bool esmtp = false;                   // EHLO (true) or HELO (false)
  bool tls = false;                     // TLS active for this transaction
  std::optional<std::string> auth_user; // the authenticated identity, if any
  bool chunking = false;                // content came with BDAT (else DATA)
  bool eight_bit_seen = false;          // content has bytes >= 0x80 (whatever BODY said)
  bool bare_lf_seen = false;            // content has LF without CR (DATA only)

  // RFC 3848 "with" protocol for the Received: header: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA
  // (UTF8SMTP... variants of RFC 6531 7.7 when SMTPUTF8 was used).
  [[nodiscard]] std::string with_protocol() const;
};

}  // namespace refmail::smtp

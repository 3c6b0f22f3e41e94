// web/autoconfig.hpp — mail client set-up: Thunderbird's autoconfig document
// (/.well-known/autoconfig/mail/config-v1.1.xml and /mail/config-v1.1.xml, the
// "config-v1.1.xml" format Thunderbird, K-9/Thunderbird for Android, Evolution and
// others read), so a user types an address and a password and the client finds IMAP
// (IMAPS and STARTTLS) and submission (SMTPS and STARTTLS) on this server. The RFC 6186
// SRV records for the other clients are in the README.
// SECURITY: unauthenticated and public by design (it names only the server's host and
// ports); the address the client sends is only echoed as an XML-escaped domain.
#pragma once
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace refmail::web {

// The document for `email_address` ("" when the client gave none): the server's host
// name (config hostname) and the listeners' ports as [listen] names them (a server
// behind port forwarding listens on the public ports or is set up by hand); a listener
// that is disabled is left out. The username is the full address (%EMAILADDRESS%).
[[nodiscard]] std::string autoconfig_xml(const config::Config& cfg, std::string_view email_address);

}  // namespace refmail::web

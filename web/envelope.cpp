// web/envelope.cpp — see envelope.hpp.
#include "web/envelope.hpp"

#include <boost/json.hpp>

namespace refmail::web {

std::string queue_envelope_json(std::string_view mail_from, const std::vector<std::string>& rcpt_to, bool smtputf8,
                                std::string_view envid, std::string_view ret) {
  boost::json::array to;
  for (const auto& r : rcpt_to) to.emplace_back(r);
  boost::json::object o{{"mail_from", mail_from}, {"rcpt_to", to}, {"smtputf8", smtputf8}};
  if (!envid.empty()) o["envid"] = envid;
  if (!ret.empty()) o["ret"] = ret;
  return boost::json::serialize(o);
}

}  // namespace refmail::web

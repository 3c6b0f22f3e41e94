// delivery/queue_envelope.cpp — see queue_envelope.hpp.
#include "delivery/queue_envelope.hpp"

#include <boost/json.hpp>

namespace refmail::delivery {

namespace json = boost::json;

QueueEnvelope queue_envelope(const smtp::Envelope& env, const std::vector<std::string>& rcpts) {
  QueueEnvelope q;
  q.mail_from = env.mail_from.to_string();
  q.rcpt_to = rcpts;
  q.smtputf8 = env.params.smtputf8;
  q.envid = env.params.envid;
  q.ret = env.params.ret == smtp::DsnRet::Unspecified ? "" : env.params.ret == smtp::DsnRet::Full ? "FULL" : "HDRS";
  for (const auto& r : rcpts) {
    for (const auto& er : env.rcpt_to) {
      if (er.address.to_string() != r || (er.dsn.notify == 0 && er.dsn.orcpt.empty())) continue;
      q.dsn[r] = {er.dsn.notify, er.dsn.orcpt.empty() ? std::string() : er.dsn.orcpt_type + ";" + er.dsn.orcpt};
      break;
    }
  }
  return q;
}

std::string serialize(const QueueEnvelope& e) {
  json::array to;
  for (const auto& r : e.rcpt_to) to.emplace_back(r);
  json::object o{{"mail_from", e.mail_from}, {"rcpt_to", to}, {"smtputf8", e.smtputf8}};
  if (!e.envid.empty()) o["envid"] = e.envid;
  if (!e.ret.empty()) o["ret"] = e.ret;
  if (e.warned) o["warned"] = true;
  json::object dsn;
  for (const auto& r : e.rcpt_to) {
    auto it = e.dsn.find(r);
    if (it == e.dsn.end()) continue;
    json::object p{{"notify", it->second.first}};
    if (!it->second.second.empty()) p["orcpt"] = it->second.second;
    dsn[r] = std::move(p);
  }
  if (!dsn.empty()) o["dsn"] = std::move(dsn);
  return json::serialize(o);
}

std::optional<QueueEnvelope> parse_queue_envelope(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  QueueEnvelope e;
  auto str = [&](std::string_view k, std::string& out) {
    if (auto* p = o.if_contains(k); p && p->is_string()) out = std::string(p->as_string());
  };
  str("mail_from", e.mail_from);
  str("envid", e.envid);
  str("ret", e.ret);
  if (auto* p = o.if_contains("smtputf8"); p && p->is_bool()) e.smtputf8 = p->as_bool();
  if (auto* p = o.if_contains("warned"); p && p->is_bool()) e.warned = p->as_bool();
  if (auto* d = o.if_contains("dsn"); d && d->is_object()) {
    for (const auto& [k, dv] : d->as_object()) {
      if (!dv.is_object()) continue;
      unsigned n = 0;
      if (auto* x = dv.as_object().if_contains("notify"); x && (x->is_uint64() || x->is_int64())) {
        n = static_cast<unsigned>(x->to_number<std::uint64_t>() & 15);
      }
      std::string orcpt;
      if (auto* x = dv.as_object().if_contains("orcpt"); x && x->is_string()) orcpt = std::string(x->as_string());
      e.dsn[std::string(k)] = {n, orcpt};
    }
  }
  auto* r = o.if_contains("rcpt_to");
  if (!r || !r->is_array()) return std::nullopt;
  for (const auto& x : r->as_array()) {
    if (!x.is_string()) return std::nullopt;
    e.rcpt_to.emplace_back(x.as_string());
  }
  if (e.rcpt_to.empty()) return std::nullopt;
  return e;
}

}  // namespace refmail::delivery

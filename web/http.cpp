// web/http.cpp — see http.hpp.
#include "web/http.hpp"

#include <boost/json.hpp>

namespace refmail::web {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < k.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return v;
  }
  return {};
}

std::string_view Request::path() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

Response error_response(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(boost::json::object{{"error", message}});
  return r;
}

}  // namespace refmail::web

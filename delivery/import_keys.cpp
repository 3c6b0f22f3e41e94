// delivery/import_keys.cpp — see import_keys.hpp.
#include "delivery/import_keys.hpp"

namespace refmail::delivery {

namespace import_keys {
std::string mbox(std::string_view source, std::string_view user, std::string_view mailbox) {
  std::string k(source);
  k.push_back('\0');
  k.append(user).push_back('\0');
  k.append(mailbox);
  return k;
}
namespace {
void put_be32(std::string& k, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
}  // namespace
std::string pending_prefix(std::string_view mbox) {
  std::string k = "Q";
  k.append(mbox).push_back('\0');
  return k;
}
std::string pending(std::string_view mbox, std::uint32_t uid) {
  auto k = pending_prefix(mbox);
  put_be32(k, uid);
  return k;
}
std::string marker(std::string_view mbox) { return "P" + std::string(mbox); }
std::string done(std::string_view mbox, std::uint32_t uidvalidity, std::uint32_t uid) {
  std::string k = "D";
  k.append(mbox).push_back('\0');
  put_be32(k, uidvalidity);
  put_be32(k, uid);
  return k;
}
std::string intent(std::string_view mbox, std::uint32_t uidvalidity, std::uint32_t uid) {
  std::string k = "T";
  k.append(mbox).push_back('\0');
  put_be32(k, uidvalidity);
  put_be32(k, uid);
  return k;
}
std::string uidvalidity(std::string_view mbox) { return "V" + std::string(mbox); }
std::string stats(std::string_view source) { return "S" + std::string(source); }
}  // namespace import_keys

}  // namespace refmail::delivery

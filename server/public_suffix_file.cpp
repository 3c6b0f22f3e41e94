// server/public_suffix_file.cpp — see public_suffix_file.hpp.
#include "server/public_suffix_file.hpp"

#include <fstream>
#include <iterator>

namespace refmail::server {

std::optional<trust::PublicSuffixList> load_public_suffix_list(std::string_view path, std::string* why) {
  constexpr std::streamoff kMaxBytes = 16 << 20;
  auto fail = [&](std::string reason) -> std::optional<trust::PublicSuffixList> {
    if (why) *why = std::string(path) + ": " + std::move(reason);
    return std::nullopt;
  };
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in) return fail("cannot be read");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0 || size > kMaxBytes) return fail("larger than 16 MiB");
  in.seekg(0);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) return fail("read failed");
  auto psl = trust::PublicSuffixList::parse(text);
  if (psl.size() == 0) return fail("holds no rule");
  return psl;
}

}  // namespace refmail::server

// server/public_suffix_file.hpp — reads the Public Suffix List for DMARC (trust/) from a
// file, once at start: Debian's `publicsuffix` package by default. trust/ parses text
// and never opens files; this is the I/O half.
// SECURITY: the file is trusted configuration, but its size is still capped (kMaxBytes).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "trust/public_suffix.hpp"

namespace refmail::server {

// nullopt with `why` set when the file cannot be read, is larger than 16 MiB, or holds
// no rule at all (a truncated or wrong file must not silently make every TLD an
// organization's suffix).
[[nodiscard]] std::optional<trust::PublicSuffixList> load_public_suffix_list(
    std::string_view path = trust::kDebianPublicSuffixPath, std::string* why = nullptr);

}  // namespace refmail::server

// mime/codec_internal.hpp — building blocks shared by the codecs, the splitter's
// streaming verifier and the joiner. Not part of the public API.
// SECURITY: callers guarantee buffer sizes (documented per function).
#pragma once
#include <cstddef>
#include <cstdint>

namespace refmail::mime::detail {

inline constexpr std::uint8_t kB64Invalid = 0xFF;
inline constexpr std::uint8_t kB64Pad = 0xFE;
inline constexpr std::uint8_t kB64Space = 0xFD;

// 256-entry table: alphabet char -> 0..63, '=' -> kB64Pad, SP/HT/CR/LF -> kB64Space,
// anything else -> kB64Invalid.
[[nodiscard]] const std::uint8_t* base64_value_table() noexcept;

// Encodes `groups` whole 3-byte groups; writes 4*groups chars. Returns the end.
char* base64_encode_groups(const unsigned char* in, std::size_t groups, char* out) noexcept;
// Encodes the final 1 or 2 bytes with padding; writes 4 chars. Returns the end.
char* base64_encode_tail(const unsigned char* in, std::size_t n, char* out) noexcept;

}  // namespace refmail::mime::detail

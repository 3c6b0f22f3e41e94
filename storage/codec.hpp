// storage/codec.hpp — PRIVATE to storage/: the byte encodings shared by the mail logic
// and every backend: little- and big-endian integers, the bounds-checked Reader, and
// the merge operands of the counter and refcount column families (see kv.hpp).
// Must never: change an encoding; data folders written by older builds hold them.
// SECURITY: Reader never reads past its input; a short value turns ok() false.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace refmail::storage {

// ---- little-endian / big-endian codecs ----
inline void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }
inline void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
// Big-endian so keys sort numerically.
inline void put_be32(std::string& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_be64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline std::uint32_t get_be32(std::string_view s) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[i]);
  return v;
}
inline std::uint64_t get_be64(std::string_view s) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[i]);
  return v;
}
inline std::int64_t decode_i64(std::string_view s) {  // REQUIRES: s.size() >= 8
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(s[i]);
  return static_cast<std::int64_t>(v);
}
inline std::string encode_i64(std::int64_t v) {
  std::string s;
  put_i64(s, v);
  return s;
}

// Bounds-checked reader; ok() turns false at the first short read.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    auto v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return v;
  }
  std::uint64_t u64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(in_[i]);
    in_.remove_prefix(8);
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::string_view bytes(std::size_t n) {
    if (!need(n)) return {};
    auto v = in_.substr(0, n);
    in_.remove_prefix(n);
    return v;
  }
  std::string str() {
    auto n = u32();
    return std::string(bytes(n));
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || in_.size() < n) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

// ---- merge operands ----
// counter/grant CF values: 8-byte LE int64. Operands: 'A'+i64 (add) or 'X'+i64 (max).
// blob_meta/message CF values: 8-byte LE int64 refcount followed by the record;
// operands 'A'+i64 adjust the refcount and keep the record.
inline std::string add_operand(std::int64_t delta) {
  std::string s(1, 'A');
  put_i64(s, delta);
  return s;
}
inline std::string max_operand(std::int64_t v) {
  std::string s(1, 'X');
  put_i64(s, v);
  return s;
}

}  // namespace refmail::storage

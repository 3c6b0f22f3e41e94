// delivery/import_keys.hpp — the legacy import's state key schema.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace refmail::delivery {

// Keys of the import worker's state (Store::*_import_state). One place, so the web
// enqueue (web/import_api.cpp), server/import_worker.cpp and the message's own batch
// (delivery::Import::import_state) agree. `mbox` = source \0 user \0 mailbox.
namespace import_keys {
[[nodiscard]] std::string mbox(std::string_view source, std::string_view user, std::string_view mailbox);
[[nodiscard]] std::string pending_prefix(std::string_view mbox);  // "Q" mbox \0
[[nodiscard]] std::string pending(std::string_view mbox, std::uint32_t uid);
[[nodiscard]] std::string marker(std::string_view mbox);          // "P" mbox -> job id
[[nodiscard]] std::string done(std::string_view mbox, std::uint32_t uidvalidity, std::uint32_t uid);
[[nodiscard]] std::string intent(std::string_view mbox, std::uint32_t uidvalidity, std::uint32_t uid);
[[nodiscard]] std::string uidvalidity(std::string_view mbox);     // "V" mbox -> decimal
[[nodiscard]] std::string stats(std::string_view source);         // "S" source -> JSON
}  // namespace import_keys

}  // namespace refmail::delivery

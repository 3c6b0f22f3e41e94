// tests/unit/web/store_setup.hpp — what the web unit tests and the JMAP fuzz target
// (tests/fuzz/fuzz_jmap_api.cpp) share to stand up a store: the test store options,
// a message with attachments, and a delivery made the way the delivery service (delivery/service.cpp) makes it
// (split, summary, threading keys). No GoogleTest here: the fuzz build has none.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <optional>

#include "mime/splitter.hpp"
#include "mime/summary.hpp"
#include "storage/store.hpp"

namespace refmail::web::testing {

// Opens (creating) a store at `path` with cheap password hashing and unsynced writes.
inline storage::result<std::unique_ptr<storage::Store>> open_test_store(const std::filesystem::path& path) {
  storage::StoreOptions o;
  o.path = path;
  o.sync_writes = false;
  o.password_cost = storage::PasswordCost::test_minimal;
  return storage::Store::open(std::move(o));
}

inline std::string b64(std::string_view in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {a[v >> 18], a[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], '='};
  }
  return out;
}

inline std::string mime_with_attachment(const std::string& subject, const std::string& payload,
                                        const std::string& to = "alice@example.test") {
  std::string enc = b64(payload), body;
  for (std::size_t i = 0; i < enc.size(); i += 76) body += enc.substr(i, 76) + "\r\n";
  return "From: Sender <sender@outside.test>\r\nTo: " + to + "\r\nSubject: " + subject +
         "\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@outside.test>\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached report.\r\n"
         "--b1\r\nContent-Type: text/plain; name=\"small.txt\"\r\nContent-Disposition: attachment; filename=\"small.txt\"\r\n\r\n"
         "tiny note\r\n"
         "--b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
         "Content-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         body + "--b1--\r\n";
}

// Delivers `raw` to the INBOXes of `to`; the message id, or "" when the split or the
// commit failed.
inline std::string deliver_message(storage::Store& store, const std::string& raw, const std::vector<std::string>& to,
                                   std::optional<storage::UnixSeconds> internal_date = std::nullopt) {
  auto d = store.begin_delivery();
  mime::SplitParams sp;
  auto sk = mime::split_message(raw, d.blob_sink(), sp);
  if (!sk) return {};
  storage::MessageRecord rec;
  auto summary = mime::summarize(raw, *sk);
  rec.summary = summary.serialize();
  // Threading keys, as delivery/service.cpp sets them.
  auto refs = summary.in_reply_to;
  refs.insert(refs.end(), summary.references.begin(), summary.references.end());
  d.set_thread_keys(summary.message_id, std::move(refs));
  rec.blob_ids = sk->blob_ids();
  rec.logical_size = raw.size();
  rec.skeleton = sk->serialize();
  d.set_message(std::move(rec));
  for (const auto& a : to) d.add_mailbox_row(a, "INBOX", {}, internal_date);
  auto r = d.commit();
  return r ? r->message_id : "";
}

}  // namespace refmail::web::testing

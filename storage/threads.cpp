// storage/threads.cpp — JMAP threads (RFC 8621 3) assigned at delivery, per account,
// from the Message-ID / In-Reply-To / References ids the caller passes with
// Delivery::set_thread_keys (the store never parses mail). An index "H" account \0 hash(id) ->
// thread id (the thread's first message id) lets a new message join the thread of
// any id it names: its own Message-ID first (a copy, or a reply that arrived before
// it and registered the id), then In-Reply-To, then References from the nearest
// parent back. No match: a new thread named after the message. The message's own
// ids and the ids it references that are not indexed yet are then indexed to the
// thread, so a parent arriving after its reply joins the reply's thread.
// A message naming ids of two or more threads joins the first found, and once its batch
// is written the threads are merged into one (merge_threads, mailbox_index.cpp); an alias
// "J" leads the merged thread's index keys to the kept thread. Two messages of one thread
// committed at the same instant may start two threads, until a later message names
// both. Index keys stay until the account is removed.
// SECURITY: hashes are XXH3-128 keyed with the installation secret, so a sender
// cannot aim a crafted Message-ID at another thread's key; keys are per account.
#include <xxhash.h>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

inline constexpr std::size_t kMaxOwnIds = 4;
inline constexpr std::size_t kMaxRefIds = 32;
inline constexpr std::size_t kMaxIdBytes = 998;  // RFC 5322 2.1.1 line limit

std::string_view trim_id(std::string_view id) {
  while (!id.empty() && (id.front() == ' ' || id.front() == '\t' || id.front() == '<')) id.remove_prefix(1);
  while (!id.empty() && (id.back() == ' ' || id.back() == '\t' || id.back() == '>')) id.remove_suffix(1);
  return id;
}

}  // namespace

std::shared_mutex& Store::Impl::thread_lock(std::string_view account) {
  return local.thread_stripes[XXH3_64bits(account.data(), account.size()) % kThreadStripes];
}

result<std::string> Store::Impl::resolve_thread(const std::string& account, std::string thread_id) {
  // Merges only ever point at a thread that existed before, so chains are short; the
  // bound guards against a loop in damaged data.
  for (int hop = 0; hop < 64; ++hop) {
    auto v = get(kCfMailbox, thread_alias_key(account, thread_id));
    if (!v) return v.error();
    if (!*v || (*v)->empty() || **v == thread_id) return thread_id;
    thread_id = std::move(**v);
  }
  return fail(errc::corrupt, "thread aliases of " + account + " loop");
}

result<std::string> Store::Impl::assign_thread(KvBatch& batch, const std::string& account,
                                               const std::string& message_id,
                                               const std::vector<std::string>& own_ids,
                                               const std::vector<std::string>& ref_ids, bool* created,
                                               std::vector<std::string>* merge) {
  *created = true;
  merge->clear();
  auto key_of = [&](std::string_view id) {
    auto h = XXH3_128bits_withSecret(id.data(), id.size(), secret.data(), secret.size());
    auto k = thread_prefix(account);
    put_be64(k, h.high64);
    put_be64(k, h.low64);
    return k;
  };
  // Candidate ids in lookup order: own ids, In-Reply-To, References nearest first.
  std::vector<std::string> own, refs;
  for (const auto& id : own_ids) {
    auto t = trim_id(id);
    if (!t.empty() && t.size() <= kMaxIdBytes && own.size() < kMaxOwnIds) own.emplace_back(t);
  }
  // ref_ids: In-Reply-To first, then References oldest..newest; look the
  // In-Reply-To ids up first, then References backwards (the nearest ancestor first).
  std::vector<std::string> ordered;
  for (const auto& id : ref_ids) {
    auto t = trim_id(id);
    if (!t.empty() && t.size() <= kMaxIdBytes) ordered.emplace_back(t);
  }
  // Keep the ids nearest the message (the end of References) when there are many.
  if (ordered.size() > kMaxRefIds) ordered.erase(ordered.begin() + 1, ordered.end() - (kMaxRefIds - 1));
  if (!ordered.empty()) refs.push_back(ordered.front());
  for (auto it = ordered.rbegin(); it != ordered.rend() && it + 1 != ordered.rend(); ++it) refs.push_back(*it);

  std::string thread;
  std::vector<std::string> unindexed;
  for (const auto* list : {&own, &refs}) {
    for (const auto& id : *list) {
      auto k = key_of(id);
      auto v = get(kCfMailbox, k);
      if (!v) return v.error();
      if (*v) {
        if ((*v)->empty()) continue;
        auto t = resolve_thread(account, std::move(**v));
        if (!t) return t.error();
        if (thread.empty()) thread = std::move(*t);
        else if (*t != thread && std::find(merge->begin(), merge->end(), *t) == merge->end())
          merge->push_back(std::move(*t));
      } else {
        unindexed.push_back(std::move(k));
      }
    }
  }
  if (thread.empty()) thread = message_id;
  else *created = false;
  for (const auto& k : unindexed) batch.put(kCfMailbox, k, thread);
  return thread;
}

}  // namespace refmail::storage

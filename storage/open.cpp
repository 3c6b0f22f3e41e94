// storage/open.cpp — opening and closing the store over its backend (the embedded
// RocksDB one, storage/rocksdb/), the per-installation secret and format version, the
// Impl's read/write helpers, compaction and checkpoints.
// Must never: open a store another process holds (the backend refuses it).
// SECURITY: the XXH3 secret is made by libsodium's CSPRNG at first open and never
// leaves the store; without it nobody can precompute colliding blob ids.
#include <sodium.h>

#include <filesystem>
#include <system_error>

#include <xxhash.h>

#include "storage/impl.hpp"
#include "storage/memory/kv_memory.hpp"
#include "storage/rocksdb/kv_rocksdb.hpp"

namespace refmail::storage {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSecretKey = "refmail/secret";
constexpr std::string_view kFormatKey = "refmail/format";
constexpr std::string_view kFormatVersion = "1";
constexpr std::size_t kSecretBytes = 192;
static_assert(kSecretBytes >= XXH3_SECRET_SIZE_MIN);

}  // namespace

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Store::Impl::~Impl() = default;

result<std::optional<std::string>> Store::Impl::get(Cf c, std::string_view key,
                                                    const KvSnapshot* snap) {
  return kv->get(c, key, snap);
}

result<void> Store::Impl::write(KvBatch& batch, bool sync) {
  return kv->write(batch, sync ? KvSync::kIfEnabled : KvSync::kNo);
}

result<void> Store::Impl::sync_wal() { return kv->sync_wal(); }

result<std::int64_t> Store::Impl::counter(std::string_view key, const KvSnapshot* snap) {
  auto v = get(kCfCounter, key, snap);
  if (!v) return v.error();
  if (!*v) return std::int64_t{0};
  if ((*v)->size() != 8) return fail(errc::corrupt, "counter " + std::string(key) + " is corrupt");
  return decode_i64(**v);
}

std::unique_ptr<KvIterator> Store::Impl::iter(Cf c, const KvSnapshot* snap) {
  return kv->iterator(c, snap);
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::filesystem::path& Store::path() const { return impl_->options.path; }

result<std::unique_ptr<Store>> Store::open(StoreOptions options) {
  const std::string where = "store " + options.path.string();
  if (options.path.empty()) return fail(errc::invalid_argument, "store path is empty");
  if (options.max_chunk_bytes == 0 || options.max_chunk_bytes > kMaxChunkBytes)
    return fail(errc::invalid_argument, where + ": max_chunk_bytes must be 1..1048576");
  if (sodium_init() < 0) return fail(errc::io_error, "libsodium failed to initialise");

  auto kv = options.in_memory ? result<std::unique_ptr<Kv>>(memory_backend::make())
                               : rocksdb_backend::open(options);
  if (!kv) return kv.error();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->kv = std::move(*kv);

  // The per-installation secret and format version.
  auto fmt = impl->get(kCfDefault, kFormatKey);
  if (!fmt) return fmt.error();
  auto sec = impl->get(kCfDefault, kSecretKey);
  if (!sec) return sec.error();
  if (*fmt && **fmt != kFormatVersion)
    return fail(errc::corrupt, where + ": unknown store format '" + **fmt + "'");
  if (!*sec) {
    if (*fmt) return fail(errc::corrupt, where + ": the installation secret is missing");
    std::string secret(kSecretBytes, '\0');
    randombytes_buf(secret.data(), secret.size());
    auto b = impl->kv->batch();
    b.put(kCfDefault, kSecretKey, secret);
    b.put(kCfDefault, kFormatKey, kFormatVersion);
    auto ws = impl->kv->write(b, KvSync::kAlways);
    if (!ws) return ws.error();
    impl->secret = std::move(secret);
  } else {
    if ((*sec)->size() < XXH3_SECRET_SIZE_MIN)
      return fail(errc::corrupt, where + ": the installation secret is too short");
    impl->secret = std::move(**sec);
  }

  // Spilled staging that no commit adopted (a crash mid-delivery) is garbage.
  auto swept = impl->sweep_spills();
  if (!swept) return swept.error();
  // A data folder from before the message index or the mailbox index gets them now,
  // before anything is served (one pass over the rows for each).
  auto indexed = impl->build_message_index();
  if (!indexed) return indexed.error();

  std::unique_ptr<Store> store(new Store(std::move(impl)));
  store->impl_->source = std::make_unique<BlobSourceAdapter>(*store);
  return store;
}

mime::BlobSource& Store::blob_source() { return *impl_->source; }

result<void> Store::compact() { return impl_->kv->compact(); }

result<void> Store::checkpoint(const std::filesystem::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec))
    return fail(errc::exists, "checkpoint folder " + dir.string() + " already exists");
  return impl_->kv->checkpoint(dir);
}

}  // namespace refmail::storage

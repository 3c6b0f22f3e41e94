// storage/import.cpp — the durable import job queue (ARCHITECTURE flow 6): jobs wait
// here between a legacy server's new-mail notification and the IMAP fetch, so a
// restart loses none. Keys: "J" due(be64 seconds) job_id -> job; "I" job_id -> due.
// Must never: lose a job on reschedule (delete + insert are one batch).
// SECURITY: payloads are opaque (the worker's encoding) and may name remote servers;
// credentials for those belong in config, not here.
#include <sodium.h>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

std::string job_key(std::uint64_t due, std::string_view id) {
  std::string k = "J";
  put_be64(k, due);
  k.append(id);
  return k;
}

struct JobValue {
  std::string account;
  std::string payload;
  std::uint32_t attempts = 0;
  std::string last_error;
};

std::string encode_job(const JobValue& j) {
  std::string v;
  put_str(v, j.account);
  put_str(v, j.payload);
  put_u32(v, j.attempts);
  put_str(v, j.last_error);
  return v;
}

std::optional<JobValue> decode_job(std::string_view v) {
  Reader r(v);
  JobValue j;
  j.account = r.str();
  j.payload = r.str();
  j.attempts = r.u32();
  j.last_error = r.str();
  if (!r.done()) return std::nullopt;
  return j;
}

std::uint64_t seconds(UnixSeconds t) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, t.time_since_epoch().count()));
}

}  // namespace

result<std::string> Store::enqueue_import(std::string_view account, std::string_view payload,
                                          UnixSeconds due) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto user = impl_->load_user(*acct);
  if (!user) return user.error();
  if (!*user) return fail(errc::not_found, "account " + *acct + " does not exist");
  std::uint8_t raw[12];
  randombytes_buf(raw, sizeof raw);
  std::string id = "J" + hex(raw);
  auto batch = impl_->kv->batch();
  batch.put(kCfImport, job_key(seconds(due), id),
            encode_job(JobValue{*acct, std::string(payload), 0, ""}));
  std::string idx;
  put_be64(idx, seconds(due));
  batch.put(kCfImport, "I" + id, idx);
  auto w = impl_->write(batch);
  if (!w) return w.error();
  return id;
}

result<std::vector<ImportJob>> Store::due_imports(UnixSeconds now, std::size_t limit) {
  std::vector<ImportJob> out;
  auto it = impl_->iter(kCfImport);
  for (it->seek("J"); it->valid() && out.size() < limit; it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.size() < 9 || key[0] != 'J') break;
    auto due = get_be64(key.substr(1, 8));
    if (due > seconds(now)) break;
    auto j = decode_job(std::string_view(it->value().data(), it->value().size()));
    if (!j) return fail(errc::corrupt, "import job is corrupt");
    out.push_back(ImportJob{std::string(key.substr(9)), std::move(j->account),
                            std::move(j->payload),
                            UnixSeconds(std::chrono::seconds(static_cast<std::int64_t>(due))),
                            j->attempts, std::move(j->last_error)});
  }
  if (auto ec = it->check("listing import jobs")) return ec;
  return out;
}

result<void> Store::reschedule_import(std::string_view job_id, UnixSeconds due,
                                      std::string_view last_error) {
  std::lock_guard lock(impl_->local.queue_mu);
  auto idx = impl_->get(kCfImport, "I" + std::string(job_id));
  if (!idx) return idx.error();
  if (!*idx || (*idx)->size() != 8)
    return fail(errc::not_found, "import job " + std::string(job_id) + " not found");
  auto old_key = job_key(get_be64(**idx), job_id);
  auto v = impl_->get(kCfImport, old_key);
  if (!v) return v.error();
  if (!*v) return fail(errc::corrupt, "import job " + std::string(job_id) + " is missing");
  auto j = decode_job(**v);
  if (!j) return fail(errc::corrupt, "import job " + std::string(job_id) + " is corrupt");
  ++j->attempts;
  j->last_error = std::string(last_error);
  auto batch = impl_->kv->batch();
  batch.del(kCfImport, old_key);
  batch.put(kCfImport, job_key(seconds(due), job_id), encode_job(*j));
  std::string nidx;
  put_be64(nidx, seconds(due));
  batch.put(kCfImport, "I" + std::string(job_id), nidx);
  return impl_->write(batch);
}

result<void> Store::remove_import(std::string_view job_id) {
  std::lock_guard lock(impl_->local.queue_mu);
  auto idx = impl_->get(kCfImport, "I" + std::string(job_id));
  if (!idx) return idx.error();
  if (!*idx || (*idx)->size() != 8)
    return fail(errc::not_found, "import job " + std::string(job_id) + " not found");
  auto batch = impl_->kv->batch();
  batch.del(kCfImport, job_key(get_be64(**idx), job_id));
  batch.del(kCfImport, "I" + std::string(job_id));
  return impl_->write(batch);
}

}  // namespace refmail::storage

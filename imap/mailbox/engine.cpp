// imap/mailbox/engine.cpp — MailboxEngine: dispatch of mailbox requests by command.
#include "imap/mailbox/engine.hpp"

#include "storage/store.hpp"

namespace refmail::imap {

struct MailboxEngine::Impl {
  storage::Store& store;
  std::string account;
  EngineOptions options;
  bool selected = false;
};

MailboxEngine::MailboxEngine(storage::Store& store, std::string account, EngineOptions options)
    : impl_(std::make_unique<Impl>(Impl{store, std::move(account), options})) {}
MailboxEngine::~MailboxEngine() = default;

bool MailboxEngine::selected() const noexcept { return impl_->selected; }

MailboxReply MailboxEngine::execute(const action::MailboxRequest& request) {
  MailboxReply r;
  if (request.poll) return r;
  r.status = Condition::No;
  r.code = "CANNOT";
  r.text = command_name(request.command) + " is not available yet";
  return r;
}

}  // namespace refmail::imap

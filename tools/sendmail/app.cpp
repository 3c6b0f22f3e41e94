// tools/sendmail/app.cpp — refmail-sendmail's flow: parse arguments, load the account,
// read or build the message, validate everything, then submit (or print for
// --dry-run); `account set` edits the config (see app.hpp).
// SECURITY: no secret is printed (transcript masked); password_command runs only when
// a message is really sent; the config is read before stdin so a config error never
// consumes a message.
#include "tools/sendmail/app.hpp"

#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "smtp/address.hpp"
#include "tools/sendmail/account_edit.hpp"
#include "tools/sendmail/args.hpp"
#include "tools/sendmail/message.hpp"
#include "tools/sendmail/settings.hpp"
#include "tools/sendmail/transport.hpp"

namespace refmail::sendmail {

namespace {

constexpr std::string_view kVersion = "refmail-sendmail 0.1.0";

int report(std::ostream& err, const Failure& f) {
  err << "refmail-sendmail: " << one_line(f.message) << "\n";
  return f.exit_code;
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string local_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !smtp::is_domain(buf)) return "localhost";
  return buf;
}

bool has_8bit(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

int account_set(const Invocation& inv, std::istream& in, std::ostream& out, std::ostream& err) {
  std::optional<std::string> password;
  if (inv.account.password_stdin) {
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.empty()) return report(err, fail(EX_DATAERR, "account set: --password-stdin read an empty line"));
    password = std::move(line);
  }
  auto update = make_account_update(inv.account, password);
  if (!update) return report(err, update.error());
  const std::string& path = inv.common.config_path;
  std::string text;
  std::ifstream file(path, std::ios::binary);
  if (file) {
    std::ostringstream ss;
    ss << file.rdbuf();
    text = ss.str();
  } else if (errno != ENOENT) {
    return report(err, fail(EX_CONFIG, "cannot read config " + path + ": " + std::strerror(errno)));
  }
  auto edited = apply_account_update(text, *update, path);
  if (!edited) return report(err, edited.error());
  if (auto w = write_file_atomically(path, *edited); !w) return report(err, w.error());
  out << "account " << update->name << " written to " << path << " (mode 0600)\n";
  return 0;
}

// Everything a submission needs, validated, before any connection.
struct Job {
  Account account;
  std::string mail_from;
  std::vector<std::string> rcpts;
  std::string bytes;
};

Result<Job> prepare_job(const Invocation& inv, std::istream& in, std::vector<std::string>& warnings) {
  auto settings = load_settings(inv.common.config_path, warnings);
  if (!settings) return settings.error();
  auto account = choose_account(*settings, inv.common.account);
  if (!account) return account.error();
  Job job;
  job.account = std::move(*account);
  const Account& a = job.account;
  if (a.tls == TlsSetting::None && !a.allow_plaintext && !inv.common.allow_plaintext) {
    return fail(EX_CONFIG, "account '" + a.name + "' has tls = \"none\": allow it with allow_plaintext = true "
                           "or --allow-plaintext");
  }
  const std::string& given = inv.mode == Mode::Send ? inv.send.from : inv.sendmail.from;
  job.mail_from = !given.empty() ? given : !a.from.empty() ? a.from : a.user;
  if (job.mail_from.empty()) return fail(EX_DATAERR, "no sender address: set 'from' in the account or use -f");
  if (auto ok = check_address(job.mail_from, "sender"); !ok) return ok.error();
  const auto at = job.mail_from.rfind('@');
  const std::string domain = job.mail_from.substr(at + 1);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));

  if (inv.mode == Mode::Sendmail) {
    auto raw = read_sendmail_input(in, inv.sendmail.ignore_dots);
    if (!raw) return raw.error();
    HeaderDefaults d{job.mail_from, inv.sendmail.full_name, now, make_message_id(domain)};
    auto prepared = prepare_sendmail_message(std::move(*raw), inv.sendmail.extract_recipients,
                                             inv.sendmail.rcpts, d);
    if (!prepared) return prepared.error();
    job.rcpts = std::move(prepared->rcpts);
    job.bytes = std::move(prepared->bytes);
    return job;
  }

  const SendArgs& s = inv.send;
  Notification n;
  n.from = job.mail_from;
  auto to = parse_mailboxes(s.to);
  if (!to) return to.error();
  auto cc = parse_mailboxes(s.cc);
  if (!cc) return cc.error();
  auto bcc = parse_mailboxes(s.bcc);
  if (!bcc) return bcc.error();
  n.to = *to;
  n.cc = *cc;
  n.bcc = *bcc;
  n.subject = s.subject;
  if (s.body) {
    n.text_body = *s.body;
  } else if (s.body_file && *s.body_file == "-") {
    std::ostringstream ss;
    ss << in.rdbuf();
    n.text_body = ss.str();
  } else if (s.body_file) {
    auto b = read_file(*s.body_file, "body file");
    if (!b) return b.error();
    n.text_body = std::move(*b);
  } else if (!s.html_file) {
    n.text_body = "";
  }
  if (s.html_file) {
    auto h = read_file(*s.html_file, "HTML file");
    if (!h) return h.error();
    n.html_body = std::move(*h);
  }
  for (const std::string& path : s.attach) {
    auto bytes = read_file(path, "attachment");
    if (!bytes) return bytes.error();
    n.attachments.push_back(Notification::File{base_name(path), guess_media_type(path), std::move(*bytes)});
  }
  n.now = now;
  n.random = random_u64();
  auto built = build_notification(n);
  if (!built) return built.error();
  job.bytes = std::move(*built);
  for (const auto* list : {&n.to, &n.cc, &n.bcc})
    for (const mime::Address& r : *list)
      if (std::find(job.rcpts.begin(), job.rcpts.end(), r.email) == job.rcpts.end()) job.rcpts.push_back(r.email);
  return job;
}

smtp::Address to_address(const std::string& addr_spec) {
  auto p = smtp::parse_path("<" + addr_spec + ">", smtp::PathKind::Forward);
  return p ? p->address : smtp::Address{};  // validated by check_address() before
}

}  // namespace

int run(std::string_view program, std::span<const std::string> args, std::istream& in, std::ostream& out,
        std::ostream& err) {
  auto inv = parse_args(program, args);
  if (!inv) return report(err, inv.error());
  switch (inv->mode) {
    case Mode::Help:
      out << usage_text();
      return 0;
    case Mode::Version:
      out << kVersion << "\n";
      return 0;
    case Mode::AccountSet:
      return account_set(*inv, in, out, err);
    case Mode::Sendmail:
    case Mode::Send:
      break;
  }
  std::vector<std::string> warnings;
  auto job = prepare_job(*inv, in, warnings);
  for (const std::string& w : warnings) err << "refmail-sendmail: " << w << "\n";
  warnings.clear();
  if (!job) return report(err, job.error());

  if (inv->common.dry_run) {
    // The envelope on stderr, so stdout is exactly the message that would be sent.
    err << "# dry run: account " << job->account.name << " (" << job->account.host << ":"
        << job->account.effective_port() << ")\n# MAIL FROM:<" << job->mail_from << ">\n";
    for (const std::string& r : job->rcpts) err << "# RCPT TO:<" << r << ">\n";
    out << job->bytes;
    return 0;
  }

  const Account& a = job->account;
  SubmitOptions o;
  o.host = a.host;
  o.port = a.effective_port();
  o.tls = a.tls;
  o.ca_file = a.ca_file;
  o.timeout = a.timeout;
  o.ehlo_domain = a.helo.empty() ? local_host_name() : a.helo;
  o.allow_plaintext = a.allow_plaintext || inv->common.allow_plaintext;
  o.transcript = inv->common.verbose ? &err : nullptr;
  if (!a.user.empty()) {
    auto secret = resolve_secret(a, warnings);
    for (const std::string& w : warnings) err << "refmail-sendmail: " << w << "\n";
    if (!secret) return report(err, secret.error());
    o.auth = smtp::ClientCredentials{a.user, std::move(*secret), mechanisms_for(a.auth)};
  }
  smtp::ClientMessage m;
  m.mail_from = to_address(job->mail_from);
  for (const std::string& r : job->rcpts) m.rcpt_to.push_back(smtp::Recipient{to_address(r), {}});
  bool utf8 = !m.mail_from.is_ascii();
  for (const auto& r : m.rcpt_to) utf8 = utf8 || !r.address.is_ascii();
  m.params.smtputf8 = utf8;
  if (has_8bit(job->bytes)) m.params.body = smtp::Body::EightBitMime;
  m.bytes = std::move(job->bytes);
  auto sent = submit(o, std::move(m));
  if (!sent) return report(err, sent.error());
  for (const std::string& r : sent->refused) err << "refmail-sendmail: recipient refused: " << r << "\n";
  return sent->exit_code;
}

}  // namespace refmail::sendmail

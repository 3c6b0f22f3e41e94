// MAIL/RCPT ESMTP parameters and the command-line splitter.
#include "smtp/command.hpp"
#include "smtp/errc.hpp"
#include "smtp/params.hpp"

#include <gtest/gtest.h>

using namespace refmail::smtp;

namespace {

TEST(Params, MailParams) {
  auto r = parse_mail_params(" SIZE=1000 BODY=8bitmime SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<>");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->size, 1000u);
  EXPECT_EQ(r->body, Body::EightBitMime);
  EXPECT_TRUE(r->smtputf8);
  EXPECT_EQ(r->ret, DsnRet::Hdrs);
  EXPECT_EQ(r->envid, "QQ+1");
  EXPECT_EQ(r->auth, "<>");
  r = parse_mail_params("");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, MailParams{});
  r = parse_mail_params(" BODY=BINARYMIME AUTH=user+40example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, Body::BinaryMime);
  EXPECT_EQ(r->auth, "user@example.com");
  r = parse_mail_params(" SIZE=99999999999999999999");  // 20 digits, overflows: "too big"
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size, UINT64_MAX);
}

TEST(Params, MailParamErrors) {
  const struct {
    const char* in;
    errc e;
  } cases[] = {
      {" FOO=1", errc::unknown_parameter},
      {" SIZE", errc::bad_parameter},
      {" SIZE=abc", errc::bad_parameter},
      {" SIZE=123456789012345678901", errc::bad_parameter},
      {" SIZE=1 SIZE=2", errc::bad_parameter},
      {" BODY=9BIT", errc::bad_parameter},
      {" SMTPUTF8=yes", errc::bad_parameter},
      {" RET=ALL", errc::bad_parameter},
      {" ENVID=a+0", errc::bad_parameter},
      {" ENVID=a+00", errc::bad_parameter},  // NUL via xtext
      {" ENVID=a+zz", errc::bad_parameter},
      {" =x", errc::bad_parameter},
      {"SIZE=1", errc::syntax_error},  // no space after '>'
      {" SIZE=\x01", errc::bad_parameter},
  };
  for (const auto& c : cases) {
    auto r = parse_mail_params(c.in);
    ASSERT_FALSE(r) << c.in;
    EXPECT_EQ(r.error(), c.e) << c.in;
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += " X" + std::to_string(i);
  EXPECT_FALSE(parse_mail_params(many));
  EXPECT_FALSE(parse_mail_params(" ENVID=" + std::string(101, 'e')));
}

TEST(Params, RcptParams) {
  auto r = parse_rcpt_params(" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@x.y");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->notify, unsigned{kNotifySuccess | kNotifyFailure});
  EXPECT_EQ(r->orcpt_type, "rfc822");
  EXPECT_EQ(r->orcpt, "a+b@x.y");
  r = parse_rcpt_params(" notify=never");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->notify, unsigned{kNotifyNever});
  EXPECT_FALSE(parse_rcpt_params(" NOTIFY=NEVER,SUCCESS"));
  EXPECT_FALSE(parse_rcpt_params(" NOTIFY=SUCCESS,SUCCESS"));
  EXPECT_FALSE(parse_rcpt_params(" NOTIFY=SOMETIMES"));
  EXPECT_FALSE(parse_rcpt_params(" NOTIFY="));
  EXPECT_FALSE(parse_rcpt_params(" ORCPT=rfc822"));
  EXPECT_FALSE(parse_rcpt_params(" ORCPT=;a@b"));
  auto u = parse_rcpt_params(" SIZE=1");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error(), errc::unknown_parameter);
}

TEST(Params, Xtext) {
  EXPECT_EQ(encode_xtext("a+b=c d"), "a+2Bb+3Dc+20d");
  EXPECT_EQ(decode_xtext(encode_xtext("a+b=c d")), "a+b=c d");
  EXPECT_EQ(decode_xtext("+"), std::nullopt);
  EXPECT_EQ(decode_xtext("+2"), std::nullopt);
  EXPECT_EQ(decode_xtext("+2b"), std::nullopt);  // hexchar is upper case
}

TEST(Command, SplitAndArguments) {
  auto c = split_command("mail FROM:<a@b.c>  ");
  EXPECT_EQ(c.verb, Verb::Mail);
  EXPECT_EQ(c.args, "FROM:<a@b.c>");
  EXPECT_EQ(split_command("STARTTLS").verb, Verb::StartTls);
  EXPECT_EQ(split_command("STARTTLSX").verb, Verb::Unknown);
  EXPECT_EQ(split_command("GET / HTTP/1.1").verb, Verb::Forbidden);
  EXPECT_EQ(split_command("").verb, Verb::Unknown);

  auto m = parse_mail_from("From: <a@b.c> SIZE=5");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->reverse_path.to_string(), "a@b.c");
  EXPECT_EQ(m->params.size, 5u);
  EXPECT_EQ(parse_mail_from("TO:<a@b.c>").error(), errc::syntax_error);
  EXPECT_EQ(parse_mail_from("FROM:<j\xC3\xA9@b.c>").error(), errc::utf8_not_permitted);
  EXPECT_TRUE(parse_mail_from("FROM:<j\xC3\xA9@b.c> SMTPUTF8"));
  EXPECT_EQ(parse_rcpt_to("TO:<j\xC3\xA9@b.c>", false).error(), errc::utf8_not_permitted);
  EXPECT_TRUE(parse_rcpt_to("TO:<j\xC3\xA9@b.c>", true));

  auto b = parse_bdat("100 LAST");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size, 100u);
  EXPECT_TRUE(b->last);
  b = parse_bdat("0");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->last);
  EXPECT_FALSE(parse_bdat(""));
  EXPECT_FALSE(parse_bdat("-1"));
  EXPECT_FALSE(parse_bdat("10 FIRST"));
  EXPECT_FALSE(parse_bdat("99999999999999999999"));

  auto a = parse_auth("plain dGVzdAB0ZXN0AHRlc3Q=");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->mechanism, "plain");
  EXPECT_EQ(a->initial_response, "dGVzdAB0ZXN0AHRlc3Q=");
  EXPECT_FALSE(parse_auth(""));
  EXPECT_FALSE(parse_auth("PL@IN"));
  EXPECT_FALSE(parse_auth("PLAIN a b"));
}

}  // namespace

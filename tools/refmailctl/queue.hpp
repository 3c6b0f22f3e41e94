// tools/refmailctl/queue.hpp — `refmailctl queue ...`: the relay queue through the
// admin API (/admin/v1/queue). list | show ID | retry ID | retry-all | delete ID |
// hold ID | release ID.
#pragma once
#include <functional>
#include <ostream>
#include <string>

#include <boost/json/value.hpp>

namespace refmail::tools {

// Sends one admin request (method, path, body) and returns the JSON answer; exits
// the process on an error answer (main.cpp's call()).
using AdminCall = std::function<boost::json::value(const std::string&, const std::string&, const boost::json::value&)>;

// Runs one queue subcommand; returns the exit status. `id` is ignored by list/retry-all.
[[nodiscard]] int queue_command(const std::string& sub, const std::string& id, bool json_out,
                                const AdminCall& call, std::ostream& out);

}  // namespace refmail::tools

// server/summary_hook.hpp — computes the stored summary of a message at ingest time
// (mime/summary), serialized for the store, so reading never reparses the message.
#pragma once
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "mime/skeleton.hpp"

namespace refmail::server {

[[nodiscard]] std::string summarize_for_store(std::string_view message, const mime::Skeleton& skel,
                                              const config::Config& cfg);

}  // namespace refmail::server

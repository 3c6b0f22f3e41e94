// server/summary_hook.cpp — see summary_hook.hpp.
#include "server/summary_hook.hpp"

#include "mime/summary.hpp"

namespace refmail::server {

std::string summarize_for_store(std::string_view message, const mime::Skeleton& skel,
                                const config::Config& cfg) {
  mime::SummaryLimits lim;
  // The splitter's scanner limits, so part paths match the skeleton's cuts.
  lim.limits.max_depth = cfg.limits.mime_max_depth;
  lim.limits.max_parts = cfg.limits.mime_max_parts;
  lim.limits.max_header_bytes = cfg.limits.mime_max_header_bytes;
  return mime::summarize(message, skel, lim).serialize();
}

}  // namespace refmail::server

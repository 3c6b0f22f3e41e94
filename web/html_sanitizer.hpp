// web/html_sanitizer.hpp — the allow-list HTML sanitiser for message bodies shown by the
// server's own HTML view (web/message_view.cpp), and the escaping it relies on.
// SECURITY: input is a message body from anyone; the output is balanced and holds only
// the elements and attribute values the allow-list in html_sanitizer.cpp names.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace refmail::web {

// & < > " ' as entities.
[[nodiscard]] std::string html_escape(std::string_view s);
// ASCII case-insensitive equality.
[[nodiscard]] bool equal_nocase(std::string_view a, std::string_view b);

// Sanitises an HTML body. `cid_link` maps a Content-ID to its download link ("" when the
// message has no such part: the image is dropped).
[[nodiscard]] std::string sanitize_html(std::string_view html,
                                        const std::function<std::string(std::string_view cid)>& cid_link);

}  // namespace refmail::web

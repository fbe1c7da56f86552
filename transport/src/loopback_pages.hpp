// Private to the loopback listener: the pages it answers with and the reading of a
// callback request target. Kept apart so loopback_listener.cpp stays about I/O.
#pragma once

#include <latchkey/flows/authorization_response.hpp>

#include <latchkey/core/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace latchkey::transport::detail {

struct page {
    int status = 200;
    std::string html;
};

page signed_in_page();
// The IdP's `error` / `error_description` are untrusted: HTML-escaped and length-capped.
page idp_error_page(std::string_view error, std::string_view description);
page invalid_link_page();   // 400, wrong or missing state
page already_used_page();   // 400, a second valid callback
page not_found_page();      // 404
page method_not_allowed_page();  // 405
page bad_request_page(const error_code& parse_error);  // 400 / 413 / 431

// The parts of a request target the listener cares about. Parameters are decoded as
// application/x-www-form-urlencoded ('+' is a space; RFC 6749 §4.1.2).
struct callback_target {
    bool on_path = false;  // a valid origin-form target whose path is the callback path
    flows::authorization_response response;  // its query, by the one parser
};
callback_target read_callback_target(std::string_view target, std::string_view path);

std::string html_escape(std::string_view s, std::size_t max_len = 300);

}  // namespace latchkey::transport::detail

// Pages of the loopback listener and the reading of callback targets.
#include "loopback_pages.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>

namespace latchkey::transport::detail {
namespace http = boost::beast::http;
namespace urls = boost::urls;

namespace {

page make_page(int status, std::string_view title, std::string_view body_html) {
    std::string html;
    html.reserve(512 + body_html.size());
    html += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\"><title>";
    html += title;
    html += "</title><style>body{font-family:system-ui,sans-serif;max-width:36em;"
            "margin:4em auto;padding:0 1em;line-height:1.5}</style></head><body><h1>";
    html += title;
    html += "</h1>";
    html += body_html;
    html += "</body></html>\n";
    return page{status, std::move(html)};
}

}  // namespace

std::string html_escape(std::string_view s, std::size_t max_len) {
    std::string out;
    std::size_t n = 0;
    for (unsigned char c : s) {
        if (n++ == max_len) {
            out += "&hellip;";
            break;
        }
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
            if (c < 0x20 || c == 0x7f) out += ' ';
            else out += static_cast<char>(c);
        }
    }
    return out;
}

page signed_in_page() {
    return make_page(200, "Signed in \xE2\x80\x94 you can close this tab",
                     "<p>latch received the sign-in response. Return to the terminal.</p>");
}

page idp_error_page(std::string_view error, std::string_view description) {
    std::string body = "<p>The identity provider answered <code>" + html_escape(error, 80) +
                       "</code>";
    if (!description.empty()) body += ": " + html_escape(description);
    body += "</p><p>You can close this tab; latch shows the details in the terminal.</p>";
    return make_page(200, "Sign-in was not completed", body);
}

page invalid_link_page() {
    return make_page(400, "This sign-in link is not valid for this login",
                     "<p>It does not belong to the login that is waiting in your terminal. "
                     "Nothing was changed; the login keeps waiting.</p>");
}

page already_used_page() {
    return make_page(400, "This sign-in response was already received",
                     "<p>You can close this tab and return to the terminal.</p>");
}

page not_found_page() { return make_page(404, "Not found", ""); }

page method_not_allowed_page() { return make_page(405, "Method not allowed", ""); }

page bad_request_page(const error_code& parse_error) {
    if (parse_error == http::error::header_limit)
        return make_page(431, "Request header fields too large", "");
    if (parse_error == http::error::unexpected_body || parse_error == http::error::body_limit)
        return make_page(413, "Request body not accepted", "");
    return make_page(400, "Bad request", "");
}

callback_target read_callback_target(std::string_view target, std::string_view path) {
    callback_target out;
    auto u = urls::parse_origin_form(target);
    if (!u) return out;
    // Compare the decoded path, so "/callback" and "/%63allback" are the same resource.
    if (u->path() != path) return out;
    out.on_path = true;
    // Only the query: a browser never sends a fragment.
    out.response = flows::parse_authorization_response(
        u->has_query() ? "?" + std::string(u->encoded_query()) : std::string("?"));
    return out;
}

}  // namespace latchkey::transport::detail

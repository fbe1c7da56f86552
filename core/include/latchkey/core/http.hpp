// HTTP request/response as plain values, so flows can build requests and read replies
// without knowing about sockets (sans-I/O). transport/ turns these into Beast messages.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace latchkey {

enum class http_method { get, post, put, delete_ };

struct http_request {
    http_method method = http_method::get;
    std::string url;  // absolute: scheme://host[:port]/path?query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // A token-endpoint POST that must never be retried blindly: replaying a grant can make
    // the IdP revoke the whole session (IDP-NOTES.md). transport never retries these.
    bool idempotent = false;
};

struct http_response {
    int status = 0;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    // Case-insensitive header lookup; empty when absent.
    std::string header(std::string_view name) const;
};

// application/x-www-form-urlencoded (RFC 6749 Appendix B).
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
std::string url_encode(std::string_view s);

// Builders for the requests every flow sends.
http_request make_form_post(std::string url,
                            const std::vector<std::pair<std::string, std::string>>& fields);
http_request make_get(std::string url);

}  // namespace latchkey

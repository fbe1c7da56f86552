// Small helpers shared by the unit tests.
#pragma once

#include <latchkey/core/http.hpp>

#include <string>
#include <string_view>

namespace unit_test {

// A reply as an IdP endpoint would send it: `status` and a JSON body.
inline latchkey::http_response json_reply(int status, std::string body) {
    latchkey::http_response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
}

// The value of a request's header `name` (as the code under test spelled it); "" if absent.
inline std::string header_of(const latchkey::http_request& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

}  // namespace unit_test

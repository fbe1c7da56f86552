// Small helpers shared by the unit tests.
#pragma once

#include <latchkey/core/http.hpp>

#include <string>

namespace unit_test {

// A reply as an IdP endpoint would send it: `status` and a JSON body.
inline latchkey::http_response json_reply(int status, std::string body) {
    latchkey::http_response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
}

}  // namespace unit_test

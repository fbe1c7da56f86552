// Dynamic client registration replies (RFC 7591/7592) and the HTTP Date header.
#include "fuzz_support.hpp"

#include <latchkey/core/registration.hpp>

using namespace latchkey;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    auto [date, rest] = fuzz::split(text);
    auto resp = fuzz::reply(rest);
    resp.headers.emplace_back("Date", std::string(date));
    diagnostics d;
    auto r = parse_registration_response(resp, d);
    fuzz::check_printable(d);
    if (r) fuzz::require(!r->client_id.empty(), "registration without client_id");
    diagnostics del;
    (void)parse_deletion_response(resp, del);
    fuzz::check_printable(del);
    // No overflow: a Date in 2263 or 9999 saturates (issue 18 #7).
    if (auto t = parse_http_date(date)) fuzz::require(t->time_since_epoch().count() >= 0, "date before 1970");
    (void)server_clock_skew(resp, fuzz::fuzz_now);
    (void)machine_file_stem(date);
    return 0;
}

// Token and error responses (RFC 6749 §5.1/§5.2): parse_token_response, parse_oauth_error.
#include "fuzz_support.hpp"

#include <latchkey/core/untrusted.hpp>

using namespace latchkey;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto resp = fuzz::reply(fuzz::as_text(data, size));
    diagnostics d;
    auto t = parse_token_response(resp, fuzz::fuzz_now, d);
    fuzz::check_printable(d);
    if (t) {
        // Whatever is returned may be stored, sent as a header and printed.
        fuzz::require(!t->access_token.empty(), "empty access token accepted");
        fuzz::require(token_set_problem(*t).empty(), "token with bad characters accepted");
        if (t->expires_at) fuzz::require(*t->expires_at >= fuzz::fuzz_now, "expiry before now");
    }
    diagnostics e;
    (void)parse_oauth_error(resp, e);
    fuzz::check_printable(e);
    return 0;
}

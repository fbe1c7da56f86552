// OpenID discovery documents (OIDC Discovery §4): parse_provider_metadata.
#include "fuzz_support.hpp"

#include <latchkey/core/provider.hpp>
#include <latchkey/core/untrusted.hpp>

using namespace latchkey;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto resp = fuzz::reply(fuzz::as_text(data, size));
    resp.status = 200;
    diagnostics d;
    auto m = parse_provider_metadata(resp, "https://idp.example", d);
    fuzz::check_printable(d);
    if (m) {
        // Every endpoint kept is one latch may request or show: https (or loopback http).
        for (const std::string* e : {&m->authorization_endpoint, &m->token_endpoint,
                                     &m->device_authorization_endpoint, &m->userinfo_endpoint,
                                     &m->revocation_endpoint, &m->jwks_uri, &m->registration_endpoint})
            fuzz::require(e->empty() || url_problem(*e).empty(), "unusable endpoint accepted");
        fuzz::require(!m->token_endpoint.empty(), "no token endpoint");
    }
    return 0;
}

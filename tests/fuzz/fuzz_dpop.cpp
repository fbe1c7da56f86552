// DPoP proofs (RFC 9449) as latch-idp receives them: the DPoP header's text, checked at the
// token endpoint and at a resource (with an access token's hash). Refusals must say why in
// one printable line; an accepted proof must have a thumbprint and a jti.
#include "fuzz_support.hpp"

#include <latchkey/flows/server/dpop.hpp>

using namespace latchkey;
using namespace latchkey::flows::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    constexpr std::int64_t now = 1'790'000'000;
    for (const dpop_expect& e : {dpop_expect{"POST", "https://idp.example/oauth2/token", now, {}},
                                 dpop_expect{"GET", "https://idp.example/oauth2/userinfo", now, "token"}}) {
        diagnostics d;
        auto r = verify_dpop_proof(text, e, d);
        fuzz::check_printable(d);
        if (r) fuzz::require(!r->jkt.empty() && !r->jti.empty(), "accepted proof without jkt or jti");
        else fuzz::require(!d.client_message.empty() && d.client_message.find('\n') == std::string::npos,
                           "refusal without a one-line reason");
    }
    (void)dpop_nonce_valid("key", text, now);
    (void)parse_resource_authorization(text);
    return 0;
}

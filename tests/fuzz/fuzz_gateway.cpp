// Gateway session answers and RFC 3339 times (core/gateway.hpp).
#include "fuzz_support.hpp"

#include <latchkey/core/gateway.hpp>
#include <latchkey/core/untrusted.hpp>

using namespace latchkey;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    auto [field, rest] = fuzz::split(text);
    gateway_config g;
    if (!field.empty() && field.size() < 40) g.expiry_field = std::string(field);
    diagnostics d;
    auto s = parse_gateway_response(g, fuzz::reply(rest), fuzz::fuzz_now, d);
    fuzz::check_printable(d);
    if (s) fuzz::require(token_problem(s->token.reveal(), token_kind::opaque).empty(),
                         "gateway token with bad characters accepted");
    (void)parse_rfc3339(field);
    return 0;
}

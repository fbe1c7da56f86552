// The credentials, config and machine files (core/store.hpp, machine_store.hpp): a file
// latch reads back must parse the same after it writes it again (round trip), and
// whatever it accepts holds no token it would refuse from an IdP.
#include "fuzz_support.hpp"

#include <latchkey/core/machine_store.hpp>
#include <latchkey/core/store.hpp>

using namespace latchkey;

namespace {

template <class T, class Parse>
void round_trip(std::string_view text, Parse parse) {
    diagnostics d;
    auto first = parse(text, d);
    fuzz::check_printable(d);
    if (!first) return;
    const std::string written = to_json(*first);
    auto second = parse(written, d);
    fuzz::require(second.has_value(), "a file latch wrote does not parse back");
    fuzz::require(to_json(*second) == written, "round trip changed the file");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    if (text.empty()) return 0;
    const auto body = text.substr(1);
    switch (static_cast<unsigned char>(text.front()) % 3) {
    case 0:
        round_trip<stored_credentials>(body, [](std::string_view t, diagnostics& d) {
            auto c = credentials_from_json(t, d);
            if (c) fuzz::require(token_set_problem(c->tokens).empty(), "stored token with bad characters");
            return c;
        });
        break;
    case 1: round_trip<config_file>(body, config_from_json); break;
    default: round_trip<machine_record>(body, machine_from_json); break;
    }
    return 0;
}

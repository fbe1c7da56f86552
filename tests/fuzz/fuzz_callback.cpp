// What a user pastes as the URL the browser landed on, and what the loopback listener receives
// (flows/authorization_response.hpp, the one parser for both), and
// the other untrusted text latch prints: escape_terminal must leave nothing a terminal
// acts on, whatever the bytes.
#include "fuzz_support.hpp"

#include <latchkey/core/store.hpp>
#include <latchkey/core/untrusted.hpp>
#include <latchkey/flows/authorization_response.hpp>

using namespace latchkey;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    auto cb = flows::parse_authorization_response(text);
    fuzz::require(fuzz::terminal_safe(escape_terminal(cb.reason)), "reason");
    if (cb.error) fuzz::require(fuzz::terminal_safe(escape_untrusted(*cb.error)), "error");
    fuzz::require(fuzz::terminal_safe(escape_terminal(text)), "escape_terminal");
    fuzz::require(fuzz::terminal_safe(escape_untrusted(text)), "escape_untrusted");
    fuzz::require(fuzz::terminal_safe(invalid_context_message(text)), "context name message");
    (void)url_problem(text);
    (void)valid_user_code(text);
    (void)token_problem(text, token_kind::jws);
    return 0;
}

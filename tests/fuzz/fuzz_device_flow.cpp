// The device flow (RFC 8628) fed hostile replies: "<code reply>\n<poll reply>\n...".
// Whatever it shows the user passed the parse-time checks (issue 18 #1); it never loops
// without a wait, and every message is printable.
#include "fuzz_support.hpp"

#include <latchkey/core/untrusted.hpp>
#include <latchkey/flows/device_flow.hpp>

using namespace latchkey;
using namespace latchkey::flows;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    device_params p;
    p.device_authorization_endpoint = "https://idp.example/device";
    p.token_endpoint = "https://idp.example/token";
    p.client_id = "latch-cli";
    p.timeout = std::chrono::seconds{900};
    device_flow f{p};
    auto rest = fuzz::as_text(data, size);
    time_point now = fuzz::fuzz_now;
    action a = f.next(started{now});
    for (int step = 0; step < 64; ++step) {
        if (auto* s = std::get_if<show_user>(&a)) {
            fuzz::require(valid_user_code(s->user_code), "user_code shown unchecked");
            fuzz::require(url_problem(s->verification_uri).empty(), "verification_uri unchecked");
            fuzz::require(s->verification_uri_complete.empty() ||
                              url_problem(s->verification_uri_complete).empty(),
                          "verification_uri_complete unchecked");
            a = f.next(user_shown{now});
        } else if (auto* w = std::get_if<wait_until>(&a)) {
            fuzz::require(w->deadline >= now, "wait into the past");
            now = w->deadline;
            a = f.next(timer_fired{now});
        } else if (std::holds_alternative<send_request>(a)) {
            auto [line, more] = fuzz::split(rest);
            rest = more;
            a = f.next(http_reply{now, {}, fuzz::reply(line)});
        } else if (auto* x = std::get_if<failed>(&a)) {
            fuzz::check_printable(x->diag);
            break;
        } else {
            break;  // done: tokens (checked by fuzz_token_response)
        }
    }
    return 0;
}

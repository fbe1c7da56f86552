// The sans-I/O flow interface (STYLE.md "Flow interface").
//
// A flow is a pure state machine: the driver hands it an event that carries the current
// time, and it answers with the next action. It never touches sockets, timers or clocks,
// so unit tests script a whole exchange with exact deadlines.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/core/token_set.hpp>

#include <optional>
#include <string>
#include <variant>

namespace latchkey::flows {

// ---- events (past tense) -------------------------------------------------------------
struct started { time_point now; };
struct http_reply {
    time_point now;
    error_code ec;          // transport failure (refused, timeout, too large, TLS...)
    http_response response; // meaningful when !ec
};
struct timer_fired { time_point now; };
struct user_shown { time_point now; };
// The redirect the browser delivered to the loopback listener, or a URL the user pasted.
struct callback_received {
    time_point now;
    std::string url;  // full URL or just "?query" / "#fragment"
};
using event = std::variant<started, http_reply, timer_fired, user_shown, callback_received>;

// ---- actions (imperative) ------------------------------------------------------------
struct send_request { http_request request; };
struct wait_until { time_point deadline; };

// Something the user must see or do. Drivers pass it to the user port, which must not block.
struct show_user {
    enum class kind { device_code, browser_url, notice };
    kind what = kind::notice;
    std::string verification_uri;           // device flow
    std::string verification_uri_complete;  // device flow, may be empty
    std::string user_code;                  // device flow
    std::string authorize_url;              // browser flow
    std::string redirect_uri;               // browser flow: what the IdP must allow-list
    // Device flow: when the login stops waiting (the earlier of the code's expiry and the
    // timeout); code_expires_at is the code's own expiry, when the IdP gave one.
    std::optional<time_point> expires_at;
    std::optional<time_point> code_expires_at;
    // Device flow in a hybrid login: the authorize URL of the browser side, so the user
    // sees one block ("finish in the browser, or enter the code"); empty otherwise.
    std::string browser_alternative;
    std::string message;                    // notice text (ours, safe to print)
};

// Wait for the authorization response (browser flow) until `deadline`; the driver answers
// with callback_received, or timer_fired at the deadline.
struct await_callback { time_point deadline; };

struct done { token_set tokens; };
struct failed {
    error_code ec;
    diagnostics diag;
};
using action = std::variant<send_request, wait_until, show_user, await_callback, done, failed>;

// Base of every flow, so one driver runs them all.
class flow {
public:
    virtual ~flow() = default;
    // Pure: the same state and event always give the same action. After done/failed it
    // returns failed{client_errc::flow_finished}.
    virtual action next(const event& ev) = 0;
};

// Helpers for flow implementations.
failed make_failed(error_code ec, std::string client_message, diagnostics diag = {});
time_point event_time(const event& ev);

}  // namespace latchkey::flows

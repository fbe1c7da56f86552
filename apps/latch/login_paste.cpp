// Pasted callback URLs (issue 7): raced with the loopback listener while a browser login
// waits, or given once with `latch login --callback-url`. See login_paste.hpp.
#include "login_paste.hpp"

#include <latchkey/core/jwt.hpp>
#include <latchkey/flows/pasted_callback.hpp>
#include <latchkey/transport/id_token.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <cstdio>

#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using kind = flows::pasted_callback::kind;

token_set id_token_only(const std::string& id_token) {
    token_set t;
    t.access_token = secret{id_token};
    t.id_token = secret{id_token};
    // Only for the expiry: the token is verified before it is stored.
    if (auto c = decode_jwt_claims_unverified(id_token)) {
        if (const auto* exp = c->if_contains("exp"); exp && exp->is_number()) {
            error_code ec;
            double d = exp->to_number<double>(ec);
            if (!ec && std::isfinite(d) && d > 0) t.expires_at = from_unix_seconds(d);
        }
    }
    return t;
}

paste_or_listener::paste_or_listener(app& a, transport::callback_port& listener,
                                     std::unique_ptr<transport::line_reader> in,
                                     const provider_metadata& m, binding b)
    : a_(a), listener_(listener), in_(std::move(in)), meta_(m), b_(std::move(b)) {}

asio::awaitable<std::string> paste_or_listener::async_listen(time_point deadline) {
    co_return co_await listener_.async_wait_callback(deadline, listen_ec_);
}

asio::awaitable<bool> paste_or_listener::async_accept_id_token(const std::string& id_token) {
    diagnostics d;
    std::optional<std::string> nonce;
    if (!b_.nonce.empty()) nonce = b_.nonce;
    auto claims = co_await transport::async_verify_id_token(a_.http, meta_, b_.client_id, id_token,
                                                            nonce, a_.clock.now(), d, a_.client.jwks);
    if (claims) {
        id_login_ = id_token_only(id_token);
        co_return true;
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return false;
    std::string hint = claims.error() == client_errc::nonce_mismatch
                           ? " (from another sign-in? store such a token with `latch login "
                             "--callback-url -`)"
                           : "";
    print_error("ignoring the pasted ID token: " + d.client_message + hint + "; still waiting");
    co_return false;
}

// The next pasted line that answers this login; nullopt when cancelled. At the end of
// stdin it waits (for the listener, or for the cancellation that ends the race).
asio::awaitable<std::optional<std::string>> paste_or_listener::async_next_paste() {
    for (;;) {
        error_code ec;
        std::string line = co_await in_->async_read_line(ec);
        if (ec == asio::error::operation_aborted) co_return std::nullopt;
        if (ec == client_errc::bad_input) {
            print_error("ignoring a pasted line of more than 64 KiB; still waiting");
            continue;
        }
        if (ec) {  // end of input, or stdin went away: the listener alone from now on
            stdin_done_ = true;
            co_await a_.clock.async_wait_until(a_.clock.now() + std::chrono::hours{24 * 365});
            co_return std::nullopt;
        }
        auto p = flows::parse_pasted_callback(line);
        if (p.what == kind::empty) continue;
        if (p.what == kind::garbage) {
            print_error("ignoring the pasted line: " + p.reason +
                        "; paste the whole URL the browser landed on");
            continue;
        }
        // RFC 6749 §10.12, as for the listener: a response without our state is not ours.
        // An ID token may come without one; its nonce binds it to this login instead.
        if (p.state.empty() ? p.what != kind::id_token : p.state != b_.state) {
            print_error("ignoring the pasted URL: its state does not match this login (a stale "
                        "or forged link?); still waiting");
            continue;
        }
        if (p.what == kind::id_token) {
            if (co_await async_accept_id_token(p.id_token)) co_return std::string();
            continue;
        }
        co_return p.url;
    }
}

asio::awaitable<std::string> paste_or_listener::async_wait_callback(time_point deadline,
                                                                    error_code& ec) {
    ec = {};
    if (!in_ || stdin_done_) co_return co_await listener_.async_wait_callback(deadline, ec);
    listen_ec_ = {};
    auto r = co_await (async_listen(deadline) || async_next_paste());
    if (r.index() == 0) {
        ec = listen_ec_;
        co_return std::get<0>(std::move(r));
    }
    auto pasted = std::get<1>(std::move(r));
    if (!pasted) {  // cancelled from outside
        ec = asio::error::operation_aborted;
        co_return std::string();
    }
    pasted_ = true;
    if (id_login_) ec = client_errc::flow_finished;  // done without the flow
    co_return std::move(*pasted);
}

namespace {

asio::awaitable<result<std::string>> async_callback_text(app& a, const login_options& o,
                                                         diagnostics& diag) {
    if (o.callback_url != "-") {
        print_error("warning: other users can read a command line (`ps`); prefer "
                    "`--callback-url -` with the URL on stdin");
        co_return o.callback_url;
    }
    auto in = transport::line_reader::open_stdin(a.io.get_executor());
    if (!in) {
        diag.client_message = "--callback-url -: stdin is neither a terminal nor a pipe; "
                              "pipe the URL in, or paste it at the prompt";
        co_return client_errc::bad_input;
    }
    if (::isatty(STDIN_FILENO)) {
        std::fputs("Paste the URL the browser landed on: ", stderr);
        std::fflush(stderr);
    }
    error_code ec;
    std::string line = co_await in->async_read_line(ec);
    if (ec || line.empty()) {
        diag.client_message = "--callback-url -: no URL on stdin";
        co_return client_errc::bad_input;
    }
    co_return line;
}

}  // namespace

asio::awaitable<result<login_outcome>> async_callback_url_login(
    app& a, const client_config&, const provider_metadata&, const login_options& o,
    diagnostics& diag) {
    auto text = co_await async_callback_text(a, o, diag);
    if (!text) co_return text.error();
    auto p = flows::parse_pasted_callback(*text);
    switch (p.what) {
    case kind::id_token:
        // Verified (signature, iss, aud, exp) by async_store_login before it is stored.
        // No nonce: no authorization request of this process preceded it.
        co_return login_outcome{id_token_only(p.id_token), login_method::callback_url, std::nullopt};
    case kind::code:
        diag.client_message =
            "a callback URL with ?code= can only be redeemed by the `latch login` that "
            "started that sign-in (it alone holds the PKCE code verifier, RFC 7636); paste "
            "it into that login while it waits, or use a URL with #id_token=";
        co_return client_errc::bad_input;
    case kind::error:
        diag.client_message = "the callback URL says the identity provider did not sign you "
                              "in (error=" + escape_untrusted(p.error, 60) + ")";
        co_return oauth_errc_from_string(p.error);
    case kind::empty:
        diag.client_message = "--callback-url: the URL is empty";
        co_return client_errc::bad_input;
    case kind::garbage:
        break;
    }
    diag.client_message = "--callback-url: not a callback URL (" + p.reason + ")";
    co_return client_errc::bad_input;
}

}  // namespace latchkey::cli

// Pasted callback URLs (issue 7): raced with the loopback listener while a browser login
// waits, or given once with `latch login --callback-url`. See login_paste.hpp.
#include "login_paste.hpp"
#include "login_internal.hpp"

#include <latchkey/flows/authorization_response.hpp>
#include <latchkey/transport/id_token.hpp>
#include <latchkey/transport/race.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>

namespace latchkey::transport::detail {
namespace asio = boost::asio;
using kind = flows::authorization_response::kind;

paste_or_listener::paste_or_listener(client_services& client, login_user_port& user,
                                     callback_port& listener, line_source* in,
                                     const provider_metadata& m, binding b)
    : client_(client), user_(user), listener_(listener), in_(in), meta_(m), b_(std::move(b)) {}

asio::awaitable<error_code> paste_or_listener::async_listen(time_point deadline,
                                                            std::string& url) {
    error_code ec;
    url = co_await listener_.async_wait_callback(deadline, ec);
    co_return ec;
}

asio::awaitable<bool> paste_or_listener::async_accept_id_token(const std::string& id_token) {
    diagnostics d;
    std::optional<std::string> nonce;
    if (!b_.nonce.empty()) nonce = b_.nonce;
    auto claims = co_await async_verify_id_token(client_.http, meta_, b_.client_id, id_token, nonce,
                                                 client_.clock.now(), d, client_.jwks);
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
    user_.warn("ignoring the pasted ID token: " + d.client_message + hint + "; still waiting");
    co_return false;
}

// The next pasted line that answers this login. Errors: operation_aborted when cancelled,
// eof (or the input's error) when the input ends: the listener goes on alone.
asio::awaitable<error_code> paste_or_listener::async_next_paste(std::string& url) {
    for (;;) {
        error_code ec;
        std::string line = co_await in_->async_read_line(ec);
        if (ec == asio::error::operation_aborted) co_return ec;
        if (ec == client_errc::bad_input) {
            user_.warn("ignoring a pasted line of more than 64 KiB; still waiting");
            continue;
        }
        if (ec) {
            stdin_done_ = true;
            co_return asio::error::eof;
        }
        auto p = flows::parse_authorization_response(line);
        if (p.what == kind::empty) continue;
        if (p.what == kind::garbage) {
            user_.warn("ignoring the pasted line: " + p.reason +
                       "; paste the whole URL the browser landed on");
            continue;
        }
        // RFC 6749 §10.12, as for the listener: the flow decides whether it is ours. An
        // ID token may come without a state; its nonce binds it to this login instead.
        if (!p.state ? p.what != kind::id_token : !b_.accepts(p)) {
            user_.warn("ignoring the pasted URL: its state does not match this login (a stale "
                       "or forged link?); still waiting");
            continue;
        }
        if (p.what == kind::id_token) {
            if (co_await async_accept_id_token(*p.id_token)) co_return error_code{};
            auto cs = co_await asio::this_coro::cancellation_state;
            if (cs.cancelled() != asio::cancellation_type::none) co_return asio::error::operation_aborted;
            continue;
        }
        url = std::move(p.url);
        co_return error_code{};
    }
}

namespace {
// The end of the pasted input leaves the listener running; anything else decides.
bool not_end_of_input(const error_code& ec) { return ec != asio::error::eof; }
}  // namespace

asio::awaitable<std::string> paste_or_listener::async_wait_callback(time_point deadline,
                                                                    error_code& ec) {
    ec = {};
    if (!in_ || stdin_done_) co_return co_await listener_.async_wait_callback(deadline, ec);
    std::string heard, pasted;
    auto listen = async_listen(deadline, heard);
    auto paste = async_next_paste(pasted);
    auto r = co_await async_race(std::move(listen), std::move(paste), not_end_of_input);
    ec = r.ec[r.decided];
    if (r.decided == 0) co_return heard;
    if (ec) co_return std::string();  // cancelled from outside
    pasted_ = true;
    if (id_login_) ec = client_errc::flow_finished;  // done without the flow
    co_return pasted;
}

result<flow_outcome> callback_url_login(const login_options& o, diagnostics& diag) {
    auto p = flows::parse_authorization_response(o.callback_url);
    switch (p.what) {
    case kind::id_token:
        // Verified (signature, iss, aud, exp) by async_login before it is returned.
        // No nonce: no authorization request of this process preceded it.
        return flow_outcome{id_token_only(*p.id_token), login_method::callback_url, std::nullopt};
    case kind::code:
        diag.client_message =
            "a callback URL with ?code= can only be redeemed by the `latch login` that "
            "started that sign-in (it alone holds the PKCE code verifier, RFC 7636); paste "
            "it into that login while it waits, or use a URL with #id_token=";
        return client_errc::bad_input;
    case kind::error:
        diag.client_message = "the callback URL says the identity provider did not sign you "
                              "in (error=" + escape_untrusted(*p.error, 60) + ")";
        return oauth_errc_from_string(*p.error);
    case kind::empty:
        diag.client_message = "--callback-url: the URL is empty";
        return client_errc::bad_input;
    case kind::garbage:
        break;
    }
    diag.client_message = "--callback-url: not a callback URL (" + p.reason + ")";
    return client_errc::bad_input;
}

}  // namespace latchkey::transport::detail

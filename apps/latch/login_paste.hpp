// Pasted callbacks: the browser ran on another machine (SSH, a container) and the user
// pastes the URL it landed on. See login_paste.cpp.
#pragma once

#include "app.hpp"

#include <latchkey/transport/line_reader.hpp>
#include <latchkey/transport/ports.hpp>

#include <memory>
#include <optional>
#include <string>

namespace latchkey::cli {

// The callback port of `latch login --browser` (and of the browser side of hybrid): the
// loopback listener raced with lines read from stdin, on the one io_context.
//   * `?code=...&state=...`: the state must be this login's, then the URL goes to the
//     flow exactly as if the listener had received it (iss check, PKCE exchange).
//   * `#id_token=...`: verified (JWKS, iss, aud, exp, and the nonce this login sent)
//     before it counts; the login is then done with that ID token (id_token_login()).
//   * anything else, or a URL of another login: one line on stderr, and it keeps waiting
//     (bounded by the login timeout).
// Whichever arrives first wins; the loser is cancelled (the listener then closes).
class paste_or_listener final : public transport::callback_port {
public:
    struct binding {
        std::string client_id;
        std::string state;
        std::string nonce;
    };
    // `in` may be null: then this is just the listener.
    paste_or_listener(app& a, transport::callback_port& listener,
                      std::unique_ptr<transport::line_reader> in, const provider_metadata& m,
                      binding b);

    boost::asio::awaitable<std::string> async_wait_callback(time_point deadline,
                                                            error_code& ec) override;

    bool reads_stdin() const noexcept { return in_ != nullptr; }
    bool pasted() const noexcept { return pasted_; }  // a pasted URL won
    // Set when a verified pasted ID token won; the wait then ended with flow_finished.
    const std::optional<token_set>& id_token_login() const noexcept { return id_login_; }

private:
    boost::asio::awaitable<std::string> async_listen(time_point deadline);
    boost::asio::awaitable<std::optional<std::string>> async_next_paste();
    boost::asio::awaitable<bool> async_accept_id_token(const std::string& id_token);

    app& a_;
    transport::callback_port& listener_;
    std::unique_ptr<transport::line_reader> in_;
    const provider_metadata& meta_;
    binding b_;
    bool stdin_done_ = false;
    bool pasted_ = false;
    error_code listen_ec_;
    std::optional<token_set> id_login_;
};

// A login that has only an ID token (seed 001's SPA callback): stored as the ID token and,
// since there is nothing else to present, as the access token, expiring with it.
token_set id_token_only(const std::string& id_token);

// `latch login --callback-url URL` (or `-`: one line from stdin). `#id_token=` gives a
// login_outcome (verified when stored, without a nonce: no request of ours preceded it);
// `?code=` is refused with client_errc::bad_input: only the process holding the PKCE
// verifier could exchange it.
boost::asio::awaitable<result<login_outcome>> async_callback_url_login(
    app& a, const client_config& c, const provider_metadata& m, const login_options& o,
    diagnostics& diag);

}  // namespace latchkey::cli

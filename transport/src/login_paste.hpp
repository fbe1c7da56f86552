// Pasted callbacks: the browser ran on another machine (SSH, a container) and the user
// pastes the URL it landed on. Not installed; see login_paste.cpp.
#pragma once

#include <latchkey/transport/client_services.hpp>
#include <latchkey/transport/line_reader.hpp>
#include <latchkey/transport/login.hpp>
#include <latchkey/transport/loopback_listener.hpp>
#include <latchkey/transport/ports.hpp>

#include <optional>
#include <string>

namespace latchkey::transport::detail {

// The callback port of a browser login: the loopback listener raced (async_race) with
// lines pasted into `in`, on the one io_context.
//   * `?code=...&state=...`: the state must be this login's, then the URL goes to the
//     flow exactly as if the listener had received it (iss check, PKCE exchange).
//   * `#id_token=...`: verified (JWKS, iss, aud, exp, and the nonce this login sent)
//     before it counts; the login is then done with that ID token (id_token_login()).
//   * anything else, or a URL of another login: a warning, and it keeps waiting
//     (bounded by the login timeout). At the end of the input: the listener alone.
class paste_or_listener final : public callback_port {
public:
    struct binding {
        std::string client_id;
        std::string nonce;
        // Whether a response is this login's: the flow decides (auth_code_flow::accepts).
        loopback_listener::acceptor_fn accepts;
    };
    // `in` may be null: then this is just the listener.
    paste_or_listener(client_services& client, login_user_port& user, callback_port& listener,
                      line_source* in, const provider_metadata& m, binding b);

    boost::asio::awaitable<std::string> async_wait_callback(time_point deadline,
                                                            error_code& ec) override;

    bool reads_paste() const noexcept { return in_ != nullptr; }
    bool pasted() const noexcept { return pasted_; }  // a pasted URL won
    // Set when a verified pasted ID token won; the wait then ended with flow_finished.
    const std::optional<token_set>& id_token_login() const noexcept { return id_login_; }

private:
    boost::asio::awaitable<error_code> async_listen(time_point deadline, std::string& url);
    boost::asio::awaitable<error_code> async_next_paste(std::string& url);
    boost::asio::awaitable<bool> async_accept_id_token(const std::string& id_token);

    client_services& client_;
    login_user_port& user_;
    callback_port& listener_;
    line_source* in_;
    const provider_metadata& meta_;
    binding b_;
    bool stdin_done_ = false;
    bool pasted_ = false;
    std::optional<token_set> id_login_;
};

}  // namespace latchkey::transport::detail

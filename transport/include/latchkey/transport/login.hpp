// The login use case (issue 12): every way into a context, for the CLI and for any
// embedder. It discovers (client_services' cache, shared with token_source), runs the
// flow(s), verifies the ID token in ONE place (with the nonce it sent) and resolves who
// logged in. It never prints: what the user must see or do goes through the ports.
//
//   transport::client_services client(http, clock);
//   transport::browser_launcher browser(io.get_executor());
//   my_user user;                                     // a login_user_port
//   transport::login_options o;                        // way = automatic: device/browser/hybrid
//   diagnostics diag;
//   auto r = co_await transport::async_login(client, cfg, o, {user, &browser}, diag);
//   if (r) co_await transport::async_save_login(store, client.clock, "default", cfg, *r, {}, diag);
//
// Cancellation: total and terminal. Total cancellation (the first Ctrl-C) stops the flows
// (device polling, the listener, a pasted line) and async_login returns
// client_errc::cancelled; async_save_login reacts to terminal cancellation only, so a login
// that holds tokens finishes saving. The references must outlive the co_await.
#pragma once

#include <latchkey/core/provider.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/transport/client_services.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

typedef struct evp_pkey_st EVP_PKEY;

namespace latchkey::transport {

class browser_port;
class line_source;

// What the person at the other end sees: the flows' prompts (show_user), one-line
// warnings ("still waiting for the other one", "ignoring the pasted line: ..."), and,
// optionally, a countdown decorating the device flow's wait.
class login_user_port : public user_port {
public:
    // One line about something that went wrong but does not end the login. Ours: printable.
    virtual void warn(const std::string& message) = 0;
    // True when async_countdown should run while the device flow waits.
    virtual bool wants_countdown() const { return false; }
    // Runs until cancelled (terminal); never ends the login itself.
    virtual boost::asio::awaitable<void> async_countdown(clock_port& clock);
};

// Asks the person for a value (the password grant's user name and password).
class credentials_prompt {
public:
    virtual ~credentials_prompt() = default;
    // The line typed, without its newline; nullopt at the end of input or when cancelled.
    // `echo` false: a secret, not echoed.
    virtual boost::asio::awaitable<std::optional<std::string>> async_prompt(std::string prompt,
                                                                            bool echo) = 0;
};

struct login_ports {
    login_user_port& user;
    browser_port* browser = nullptr;      // null: never open a browser (print the URL)
    line_source* pasted = nullptr;        // lines the user pastes while a browser login waits
    credentials_prompt* prompt = nullptr; // null: no prompting (password grant needs env)
};

enum class login_way {
    automatic,  // device, browser or both raced, by what the IdP advertises and the browser port
    device,     // RFC 8628
    browser,    // authorization code + PKCE on a loopback listener (plus pasted URLs)
    callback_url,        // the ID token of a callback URL (#id_token=...), no request of ours
    password,            // RFC 6749 §4.3
    client_credentials,  // RFC 6749 §4.4 with a client secret
    machine,             // client credentials with private_key_jwt (RFC 7523)
};

// A key that signs client assertions (private_key_jwt). Not owned.
struct signing_key_ref {
    EVP_PKEY* key = nullptr;
    std::string kid;     // RFC 7638 thumbprint, the kid registered with the public key
    std::string source;  // for messages: "the machine key file /x"
};

struct login_options {
    login_way way = login_way::automatic;
    std::chrono::seconds timeout{300};
    std::uint16_t port = 0;          // loopback port; 0 = ephemeral (RFC 8252 §7.3)
    bool port_remembered = false;    // `port` is the one a login of the context worked on
    std::string callback_url;        // way == callback_url: the URL the browser landed on
    // password: from the embedder (else asked through login_ports::prompt).
    std::optional<std::string> username;
    std::optional<secret> password;
    std::optional<secret> client_secret;  // client_credentials (required), password (optional)
    bool send_scope = true;               // client_credentials: send client.scopes as `scope`
    // The `audience` parameter many IdPs (Auth0, Okta custom servers) need on the
    // authorization, device and token requests; empty: not sent.
    std::string audience;
    signing_key_ref key;                      // machine
    std::filesystem::path machine_home;   // machine: the store home, to explain invalid_client
    // machine: send DPoP proofs (RFC 9449) even when the IdP does not advertise
    // dpop_signing_alg_values_supported (it does: proofs are sent anyway).
    bool dpop = false;
};

struct login_result {
    token_set tokens;
    login_method method = login_method::unknown;  // which way won (hybrid: device or browser)
    std::optional<boost::json::object> id_claims; // the verified ID token's claims
    identity who;
    time_point obtained_at{};
    std::uint16_t loopback_port = 0;  // browser login: the listener's port the callback reached
};

// Runs one login. Errors: the flow's (oauth_errc::access_denied, expired_token,
// client_errc::timeout, state/issuer mismatch...), client_errc::endpoint_missing when the
// IdP lacks what `way` needs, client_errc::bad_input for a refused callback URL,
// client_errc::cancelled, an ID token that fails verification (id_token_invalid,
// nonce_mismatch; diag.client_message then ends "; nothing was stored"); details in diag
// (IdP text only in diag.server_message).
boost::asio::awaitable<result<login_result>> async_login(client_services& client,
                                                         const client_config& c,
                                                         login_options o, login_ports ports,
                                                         diagnostics& diag);

// A token obtained elsewhere (`latch login --with-token`): who it belongs to, by a GET of
// `lookup_url` (else the issuer's userinfo endpoint) with it as a Bearer token.
struct lookup_result {
    std::optional<identity> who;
    std::string why_not;  // when who is empty: what went wrong, printable
    std::optional<time_point> expires_at;  // the answer's "expiresAt" (seed 000), if any
};
boost::asio::awaitable<lookup_result> async_lookup_identity(client_services& client,
                                                            std::string issuer,
                                                            std::string lookup_url,
                                                            secret token);

// Who the tokens belong to: the verified ID-token claims first, gaps filled from userinfo
// (only with a real access token). Never fails: an empty identity at worst.
boost::asio::awaitable<identity> async_identify(client_services& client,
                                                const provider_metadata& m, const token_set& t,
                                                const boost::json::object* id_claims);

// What a saved login remembers in its context besides the client (config.json).
struct save_options {
    bool remember_scopes = true;               // false: keep the context's scopes
    std::map<std::string, std::string> extra;  // context_config::extra keys to set ("" erases)
};
struct saved_login {
    stored_credentials credentials;  // as written
    context_config context;          // the context as written
    // A credentials file that could not be parsed is never overwritten: it was moved aside
    // (credential_store::set_aside_corrupt) and this says where, ready to print.
    std::string set_aside_notice;
};
// Writes the credentials of `context` and remembers the client in config.json, both under
// the context's lock (and config.json under its own lock, re-read under it, so a
// concurrent writer's contexts are kept). The first context becomes the current one.
// An unparsable credentials file is moved aside first (saved_login::set_aside_notice).
// Errors: lock_timeout, store_io, store_corrupt (config.json unreadable: not overwritten).
// Cancellation: terminal only (a login that holds tokens finishes saving).
boost::asio::awaitable<result<saved_login>> async_save_login(credential_store& store,
                                                             clock_port& clock,
                                                             std::string context,
                                                             const client_config& client,
                                                             const login_result& login,
                                                             save_options opts,
                                                             diagnostics& diag);

// Why the IdP answered invalid_client to a machine's signed assertion, as far as can be
// told: a clock skew (its Date header), a key that is not the registered one (RFC 7592 read
// with the registration kept in the machine store under `machine_home`), else the machine
// is not registered. Writes diag.client_message (ours); keeps diag.server_message.
boost::asio::awaitable<void> async_explain_invalid_client(client_services& client,
                                                          const client_config& c,
                                                          const signing_key_ref& k,
                                                          std::filesystem::path machine_home,
                                                          diagnostics& diag);

// A login that has only an ID token (seed 001's SPA callback): stored as the ID token and,
// since there is nothing else to present, as the access token, expiring with it.
token_set id_token_only(const std::string& id_token);

}  // namespace latchkey::transport

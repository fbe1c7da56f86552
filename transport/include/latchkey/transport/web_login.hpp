// Signing in a web server's OWN users through an IdP (authorization code + PKCE, RFC 6749
// §4.1, RFC 7636 S256, RFC 9207 `iss`, OIDC Core §3.1 nonce), on the server's io_context.
// The server half of a "sign in with ..." button: the same auth_code_flow machine and
// driver as `latch login --browser`, one flow per pending login.
//
//   web_login login(http, clock, {.issuer = ..., .client_id = ..., .redirect_uri =
//                                 "https://app.example/callback"});
//   web_sessions sessions(clock);
//   co_await login.async_discover(diag);                       // once, at startup
//   GET /login     auto s = login.begin(diag);     -> 302 s->authorize_url, Set-Cookie s->set_cookie
//   GET /callback  auto r = co_await login.async_complete(target, cookie_header, diag);
//                  ok:  Set-Cookie login.clear_cookie() and sessions.create(std::move(*r))
//                  not: web_login_status(r.error()) (400 for a forged/foreign callback)
//   GET /me        sessions.find(cookie_header) -> r->user
//   POST /logout   auto s = sessions.take(cookie_header); co_await login.async_revoke(s->tokens, diag)
//
// What it guarantees:
//   * each /login gets its own state, nonce and PKCE verifier, kept server-side in a table
//     keyed by a random 256-bit id; the browser holds only that id, in an HttpOnly,
//     SameSite=Lax cookie scoped to the callback path;
//   * a callback is answered only for the login whose cookie it carries: no cookie, an
//     unknown/expired id, or a `state` that is not that login's -> client_errc::state_mismatch
//     (HTTP 400), and that pending login stays usable (a forged link neither ends nor
//     hijacks it, like the CLI's loopback listener);
//   * otherwise the login is taken out of the table (single use) and its flow decides:
//     state, RFC 9207 `iss`, `error=` responses, the code exchange with the verifier;
//     then the ID token is verified (signature, iss, aud, exp, nonce) and the user is
//     read from its claims;
//   * pending logins are bounded in number (max_pending: the oldest is dropped to make
//     room) and age (pending_ttl), so a flood of /login cannot grow memory without bound;
//   * nothing here prints; nothing is threaded: use both classes from one thread/strand.
#pragma once

#include <latchkey/core/provider.hpp>
#include <latchkey/core/token_set.hpp>
#include <latchkey/flows/grant_flow.hpp>  // client_auth
#include <latchkey/transport/ports.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey::transport {

struct web_login_options {
    std::string issuer;
    std::string client_id;
    // A web server is usually a confidential client: secret_basic or secret_post with
    // client_secret. `none`: a public client (PKCE only). private_key_jwt is not supported.
    flows::client_auth auth;
    std::string redirect_uri;  // this server's callback, registered at the IdP exactly
    // A signed-in web session needs no offline access; add offline_access (prompt=consent
    // is then sent, OIDC Core §11) to get a refresh token for calling APIs later.
    std::string scope = "openid profile email";
    std::vector<std::pair<std::string, std::string>> extra_auth_params;  // e.g. login_hint
    std::chrono::seconds pending_ttl{600};  // a login not completed within this is dropped
    std::size_t max_pending = 4096;         // when full, the oldest pending login is dropped
    std::string cookie_name = "latch_login";
    bool secure_cookies = false;            // add `Secure` (set it when served over https)
};

// Who signed in, from the verified ID token.
struct web_user {
    std::string issuer;   // `iss`: (issuer, subject) identifies the account (OIDC Core §5.7)
    std::string subject;  // `sub`: the stable key for this user at this issuer
    std::string name;
    std::string email;
    std::string preferred_username;
    boost::json::object claims;  // every verified claim
};

struct web_sign_in {
    web_user user;
    token_set tokens;  // for calling APIs as the user, and for revoking at logout
    std::string context;  // what begin() was given (where to continue after the sign-in)
};

struct web_login_start {
    std::string authorize_url;  // answer 302 Found with this Location...
    std::string set_cookie;     // ...and this Set-Cookie value
};

class web_login {
public:
    // `http` and `clock` must outlive the object.
    web_login(http_port& http, clock_port& clock, web_login_options opts);
    ~web_login();
    web_login(const web_login&) = delete;
    web_login& operator=(const web_login&) = delete;

    // Fetches the issuer's discovery document (OIDC Discovery §4). Call once before
    // begin(); call again to retry a failure. A secret_basic client switches to
    // secret_post when the IdP lists token_endpoint_auth_methods_supported without
    // client_secret_basic but with client_secret_post. Errors: the transport error, bad_json,
    // issuer mismatch, or endpoint_missing (no authorization/token endpoint or jwks_uri),
    // with diag.client_message naming the problem.
    boost::asio::awaitable<error_code> async_discover(diagnostics& diag);
    const provider_metadata& metadata() const noexcept;

    // Starts a login: a new pending entry with fresh state/nonce/verifier (the oldest
    // pending login is dropped when the table is full). `context` is kept server-side with
    // it and handed back in web_sign_in (e.g. the page to continue on). Errors (HTTP 503):
    // endpoint_missing before a successful async_discover(), bad_url for an unusable
    // redirect_uri or authorization endpoint.
    result<web_login_start> begin(diagnostics& diag, std::string context = {});

    // Completes the login whose cookie `cookie_header` (the request's Cookie header)
    // carries, with the callback's request target ("/callback?code=...&state=...&iss=...").
    // Errors (HTTP status from web_login_status()):
    //   state_mismatch            no/unknown/expired login cookie, or a state that is not
    //                             that login's (the login stays pending)           400
    //   issuer_mismatch, bad_input, missing_field   a malformed or mixed-up response 400
    //   an oauth_errc             the IdP refused (access_denied ...) or the exchange
    //                             failed; IdP text only in diag.server_message   403/502
    //   id_token_invalid, nonce_mismatch, transport errors                       502
    // Cancellation: terminal, through the http port. `*this` and `diag` must outlive it.
    boost::asio::awaitable<result<web_sign_in>> async_complete(std::string target,
                                                               std::string cookie_header,
                                                               diagnostics& diag);

    // Set-Cookie value that removes the login cookie (send it with the callback's answer).
    std::string clear_cookie() const;
    std::size_t pending() const noexcept;  // logins begun and not completed or expired
    std::size_t dropped() const noexcept;  // pending logins evicted because the table was full

    // RFC 7009: revokes the refresh token (most IdPs then end the grant's access tokens
    // too), else the access token. Errors as transport::async_revoke.
    boost::asio::awaitable<error_code> async_revoke(const token_set& tokens, diagnostics& diag);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The HTTP status a server answers a failed begin()/async_complete() with (see above).
int web_login_status(const error_code& ec) noexcept;

struct web_session_options {
    std::string cookie_name = "latch_session";
    std::chrono::seconds ttl{8 * 3600};
    std::size_t max_sessions = 100'000;  // when full, the oldest session is dropped
    bool secure_cookies = false;
};

// Signed-in users in memory, keyed by a random 256-bit id in an HttpOnly, SameSite=Lax
// cookie. A new id per sign-in (no session fixation).
class web_sessions {
public:
    explicit web_sessions(clock_port& clock, web_session_options opts = {});
    ~web_sessions();
    web_sessions(const web_sessions&) = delete;
    web_sessions& operator=(const web_sessions&) = delete;

    // Stores the sign-in; returns the Set-Cookie value that names it.
    std::string create(web_sign_in s);
    // The session the Cookie header names, or nullptr (none, unknown, expired). The pointer
    // is valid until the next call on this object.
    const web_sign_in* find(std::string_view cookie_header);
    // Removes and returns it (logout).
    std::optional<web_sign_in> take(std::string_view cookie_header);
    std::string clear_cookie() const;  // Set-Cookie value that removes the session cookie
    std::size_t size() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The value of cookie `name` in a Cookie request header (RFC 6265 §5.4), if present.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

}  // namespace latchkey::transport

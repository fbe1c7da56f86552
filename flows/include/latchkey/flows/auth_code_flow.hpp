// Authorization code grant with PKCE for a native app (RFC 6749 §4.1, RFC 7636 S256,
// RFC 8252 loopback redirect, RFC 9207 `iss`, OIDC Core §3.1 nonce) as a sans-I/O machine.
//
//   started        -> show_user{browser_url: authorize_url, redirect_uri}
//   user_shown     -> await_callback{min(shown + nudge_after, deadline)}
//   timer_fired    -> before the deadline, once: show_user{notice: "No callback yet; did you
//                     allow-list the redirect URI ...? Open this URL: ..."} -> user_shown ->
//                     await_callback{deadline}
//                     at/after the deadline: failed{client_errc::timeout}
//   callback_received{url} (from the loopback listener, or a URL the user pasted):
//       state missing/mismatched           -> failed{client_errc::state_mismatch}
//       iss ≠ issuer, or absent while the IdP advertises
//           authorization_response_iss_parameter_supported -> failed{issuer_mismatch}
//       error=...                          -> failed{that oauth_errc}; error_description
//                                             only in diag.server_message (untrusted)
//       no code                            -> failed{client_errc::missing_field}
//       else -> send_request{token POST: grant_type=authorization_code, code,
//               redirect_uri, client_id, code_verifier} (not idempotent: never retried)
//   http_reply     -> parse_token_response; with an id_token: its `nonce` must equal ours (nonce_mismatch; an ID token that is
//                     not a JWT: id_token_invalid) -> done{tokens}. No ID token (plain
//                     OAuth server) -> done{tokens}. The signature, iss, aud and exp are
//                     checked once, by transport::async_login (transport/login.hpp).
//
// The overall deadline is `started.now + timeout`. The state is checked before anything
// else in the response, also before `error`: an error without our state would let anyone
// who can reach the listener (or trick the user into pasting a link) end the login.
//
// The machine is pure: the secrets come in through the constructor (make_auth_code_secrets()
// draws them from the CSPRNG), the time through the events.
//
// Wiring (what the CLI does; see transport/loopback_listener.hpp for the listener side):
//   auto listener = transport::loopback_listener::open(ex, port, "/callback", diag);
//   auto secrets  = flows::make_auth_code_secrets();
//   flows::auth_code_params p;
//   p.authorization_endpoint = md.authorization_endpoint;  p.token_endpoint = md.token_endpoint;
//   p.issuer = md.issuer;  // the discovered issuer: compared exactly (RFC 9207 §2.4)
//   p.iss_parameter_supported = md.authorization_response_iss_parameter_supported;
//   p.client_id = cfg.client_id;  p.scope = cfg.scope_string();
//   p.redirect_uri = listener->redirect_uri();
//   flows::auth_code_flow flow{std::move(p), std::move(secrets)};
//   listener->set_acceptor([&flow](const auto& r) { return flow.accepts(r); });
//   co_await transport::async_drive(flow, {http, clock, user, &*listener}, diag);
// The user port gets the show_user actions: kind::browser_url (print the pre-flight notice
// naming redirect_uri, then open authorize_url with transport::async_launch_browser; on
// failure print authorize_url) and kind::notice (print `message`; it names both URLs).
#pragma once

#include <latchkey/flows/flow.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace latchkey::flows {

struct authorization_response;

// Per-login random values (RFC 6749 §10.12 state, OIDC Core §3.1.2.1 nonce, RFC 7636 §4.1
// code verifier). Never reuse them across logins.
struct auth_code_secrets {
    std::string state;
    std::string nonce;       // empty: none is sent, and an ID token must then carry none
    secret code_verifier;    // 43..128 characters of [A-Za-z0-9-._~]
};

// Draws state, nonce (32 random bytes each, base64url) and a PKCE verifier from the
// CSPRNG. The only impure function of this file.
auth_code_secrets make_auth_code_secrets();

struct auth_code_params {
    std::string authorization_endpoint;
    std::string token_endpoint;
    std::string client_id;
    std::string scope;         // space separated, e.g. "openid profile email offline_access"
    std::string redirect_uri;  // from the listener's actual port: http://127.0.0.1:PORT/callback
    std::string issuer;        // for the RFC 9207 `iss` check
    bool iss_parameter_supported = false;  // the IdP's metadata says so: `iss` is then required
    std::chrono::seconds timeout{300};     // --timeout (issue 5: default 5 min)
    std::chrono::seconds nudge_after{30};  // re-print the URL once; 0 disables the nudge
    // Extra authorization request parameters (e.g. audience, login_hint). Names the flow
    // sets itself (response_type, client_id, redirect_uri, scope, state, nonce,
    // code_challenge, code_challenge_method, prompt) are ignored here.
    std::vector<std::pair<std::string, std::string>> extra_auth_params;
    std::optional<std::string> prompt;     // OIDC `prompt`, e.g. "login" or "consent"
    // The listener's port was chosen by the OS (no --port): it changes every run, so the
    // nudge and the timeout message add ephemeral_port_hint() (issue 18 #11).
    bool ephemeral_port = false;
};

// RFC 8252 §7.3 has the IdP ignore the loopback port, but some compare redirect URIs
// exactly: what to do then, for a message about an OS-chosen port (one sentence, no
// trailing period).
std::string ephemeral_port_hint();

class auth_code_flow final : public flow {
public:
    auth_code_flow(auth_code_params p, auth_code_secrets s);
    action next(const event& ev) override;

    // Whether an authorization response belongs to this login (its `state` is ours,
    // compared in constant time). The loopback listener asks it for its 200 vs 400 page,
    // the pasted-URL reader before handing a URL over; on_callback checks it again.
    bool accepts(const authorization_response& r) const;

    // The URL the user's browser must open; empty until `started` was handled.
    const std::string& authorize_url() const noexcept { return authorize_url_; }
    const std::string& redirect_uri() const noexcept { return p_.redirect_uri; }
    bool nudged() const noexcept { return nudged_; }

private:
    enum class state { initial, showing, awaiting, nudging, exchanging, finished };

    action on_started(time_point now);
    action on_shown(time_point now);
    action on_timer(time_point now);
    action on_callback(const callback_received& cb);
    action on_token_reply(const http_reply& r);
    action finish(action a);

    auth_code_params p_;
    auth_code_secrets s_;
    state state_ = state::initial;
    std::string authorize_url_;
    time_point deadline_{};
    time_point nudge_at_{};
    bool nudged_ = false;
};

// Builds the authorization request URL (RFC 6749 §4.1.1 + RFC 7636 §4.3 + OIDC nonce),
// keeping any query the endpoint already has. Empty when the endpoint is not an absolute
// http(s) URL. Exposed for tests and for printing.
std::string build_authorize_url(const auth_code_params& p, const auth_code_secrets& s);

}  // namespace latchkey::flows

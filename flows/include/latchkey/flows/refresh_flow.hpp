// Refreshing an access token (RFC 6749 §6) as a sans-I/O machine.
//
//   started -> send_request(POST grant_type=refresh_token) -> reply -> done | failed
//
// * The POST is NOT idempotent and is never retried, not even after a transport error: the
//   IdP may already have rotated the refresh token, and presenting the old one again makes
//   some IdPs (oidc-provider, Okta, Auth0 with reuse detection) revoke the whole session.
// * The reply is merged with the token set being refreshed (merge_refreshed below): a reply
//   without `refresh_token` keeps the old one (RFC 6749 §6: the server MAY issue a new one),
//   a reply without `id_token` keeps the old one, a reply without `scope` keeps the old scope
//   (§5.1: omitted when identical to the requested scope).
//
// Outcomes (the `failed` action's error code):
//   oauth_errc::invalid_grant  the refresh token is expired/revoked/rotated: the session is
//                              over and the user must log in again. Also for HTTP 400 or
//                              401 without an OAuth error body (issue 18 #10).
//   other oauth_errc           the IdP's error (invalid_client, invalid_scope, ...).
//   client_errc::bad_http_status / bad_json / missing_field
//                              a reply that is not an OAuth token response (e.g. HTML 500).
//   any transport error        passed through unchanged, with a message naming the endpoint.
//   client_errc::bad_input     no refresh token in `current`.
#pragma once

#include <latchkey/flows/flow.hpp>
#include <latchkey/flows/grant_flow.hpp>

#include <string>
#include <utility>
#include <vector>

namespace latchkey::flows {

struct refresh_params {
    std::string token_endpoint;
    std::string client_id;
    // The set being refreshed: its refresh_token is sent; its other members fill what the
    // reply omits. Must carry a refresh token.
    token_set current;
    // RFC 6749 §6 `scope`: empty (the default) omits it, so the IdP keeps the granted scope.
    std::string scope;
    // Client authentication for confidential clients; `how == none` (the default) sends
    // `client_id` as a form field (public client, RFC 6749 §2.3 / §3.2.1).
    client_auth auth;
    std::vector<std::pair<std::string, std::string>> extra_params;
};

class refresh_flow final : public flow {
public:
    explicit refresh_flow(refresh_params p) : p_(std::move(p)) {}
    action next(const event& ev) override;

    // True once the POST was handed to the driver: from then on the old refresh token may
    // already be dead at the IdP.
    bool request_sent() const noexcept { return sent_; }

private:
    enum class state { initial, requesting, finished };
    action on_started();
    action on_reply(const http_reply& r);

    refresh_params p_;
    state state_ = state::initial;
    bool sent_ = false;
};

// `fresh` completed with what the refresh reply left out (see the header comment).
token_set merge_refreshed(const token_set& old, token_set fresh);

}  // namespace latchkey::flows

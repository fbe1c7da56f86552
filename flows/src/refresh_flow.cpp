// Refresh (RFC 6749 §6): one POST, never retried. See refresh_flow.hpp.
#include <latchkey/flows/refresh_flow.hpp>

namespace latchkey::flows {

token_set merge_refreshed(const token_set& old, token_set fresh) {
    if (!fresh.refresh_token) fresh.refresh_token = old.refresh_token;  // §6: no rotation
    if (!fresh.id_token) fresh.id_token = old.id_token;                  // OIDC §12.2: optional
    if (fresh.scope.empty()) fresh.scope = old.scope;                    // §5.1: same as before
    return fresh;
}

action refresh_flow::next(const event& ev) {
    switch (state_) {
    case state::initial:
        if (!std::holds_alternative<started>(ev))
            return make_failed(client_errc::bad_input, "refresh flow must start with `started`");
        return on_started();
    case state::requesting: {
        state_ = state::finished;
        const auto* reply = std::get_if<http_reply>(&ev);
        if (!reply)
            return make_failed(client_errc::bad_input, "refresh flow expected an HTTP reply");
        return on_reply(*reply);
    }
    case state::finished:
        break;
    }
    return make_failed(client_errc::flow_finished, "the refresh already finished");
}

action refresh_flow::on_started() {
    if (!p_.current.refresh_token || p_.current.refresh_token->empty()) {
        state_ = state::finished;
        return make_failed(client_errc::bad_input, "there is no refresh token to refresh with");
    }
    std::vector<std::pair<std::string, std::string>> fields{
        {"grant_type", "refresh_token"},
        {"refresh_token", p_.current.refresh_token->reveal()},
    };
    if (!p_.scope.empty()) fields.emplace_back("scope", p_.scope);
    fields.insert(fields.end(), p_.extra_params.begin(), p_.extra_params.end());
    client_auth auth = p_.auth;
    if (auth.client_id.empty()) auth.client_id = p_.client_id;
    std::vector<std::pair<std::string, std::string>> headers;
    auth.apply(fields, headers);
    auto req = make_form_post(p_.token_endpoint, fields);
    req.headers.insert(req.headers.end(), headers.begin(), headers.end());
    req.idempotent = false;  // a replayed refresh token can end the session
    state_ = state::requesting;
    sent_ = true;
    return send_request{std::move(req)};
}

action refresh_flow::on_reply(const http_reply& r) {
    if (r.ec) {
        diagnostics d;
        d.client_message = "refresh request to " + p_.token_endpoint +
                           " failed (not retried: the IdP may already have rotated the "
                           "refresh token): " + r.ec.message();
        return failed{r.ec, std::move(d)};
    }
    diagnostics d;
    auto tokens = parse_token_response(r.response, r.now, d);
    if (!tokens && tokens.error() == client_errc::bad_http_status &&
        (r.response.status == 400 || r.response.status == 401)) {
        // Some IdPs answer a dead refresh token with 400 (or 401) and no OAuth error body
        // (RFC 6749 §5.2 wants invalid_grant). Either way the token is refused: the session
        // must be renewed, not retried.
        d.client_message = "the identity provider refused the refresh token (HTTP " +
                           std::to_string(r.response.status) +
                           " without an error body): the session is over";
        return failed{oauth_errc::invalid_grant, std::move(d)};
    }
    if (!tokens) {
        if (tokens.error() == oauth_errc::invalid_grant)
            d.client_message = "the identity provider rejected the refresh token "
                               "(invalid_grant): the session is over";
        else if (d.client_message.empty())
            d.client_message = "refresh failed at " + p_.token_endpoint + ": " +
                               tokens.error().message();
        return failed{tokens.error(), std::move(d)};
    }
    return done{merge_refreshed(p_.current, std::move(*tokens))};
}

}  // namespace latchkey::flows

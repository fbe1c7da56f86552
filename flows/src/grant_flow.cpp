#include <latchkey/flows/grant_flow.hpp>

#include <latchkey/core/base64url.hpp>

namespace latchkey::flows {

void client_auth::apply(std::vector<std::pair<std::string, std::string>>& fields,
                        std::vector<std::pair<std::string, std::string>>& headers) const {
    switch (how) {
    case method::none:
        fields.emplace_back("client_id", client_id);
        break;
    case method::secret_basic:
        // RFC 6749 §2.3.1: both parts form-encoded before the Basic encoding.
        headers.emplace_back("Authorization",
                             "Basic " + base64_encode(url_encode(client_id) + ":" +
                                               url_encode(client_secret.reveal())));
        break;
    case method::secret_post:
        fields.emplace_back("client_id", client_id);
        fields.emplace_back("client_secret", client_secret.reveal());
        break;
    case method::private_key_jwt:
        fields.emplace_back("client_id", client_id);
        fields.emplace_back("client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        fields.emplace_back("client_assertion", client_assertion.reveal());
        break;
    }
}

action grant_flow::next(const event& ev) {
    if (state_ == state::finished)
        return make_failed(client_errc::flow_finished, "the grant already finished");
    if (state_ == state::initial) {
        if (!std::holds_alternative<started>(ev))
            return make_failed(client_errc::bad_input, "grant flow must start with `started`");
        std::vector<std::pair<std::string, std::string>> fields{{"grant_type", p_.grant_type}};
        fields.insert(fields.end(), p_.fields.begin(), p_.fields.end());
        std::vector<std::pair<std::string, std::string>> headers;
        p_.auth.apply(fields, headers);
        auto req = make_form_post(p_.token_endpoint, fields);
        req.headers.insert(req.headers.end(), headers.begin(), headers.end());
        req.headers.insert(req.headers.end(), p_.headers.begin(), p_.headers.end());
        state_ = state::requesting;
        return send_request{std::move(req)};
    }
    state_ = state::finished;
    const auto* reply = std::get_if<http_reply>(&ev);
    if (!reply) return make_failed(client_errc::bad_input, "grant flow expected an HTTP reply");
    if (reply->ec) {
        diagnostics d;
        d.client_message = "token request to " + p_.token_endpoint + " failed (not retried: " +
                           "a replayed grant can end the session): " + reply->ec.message();
        return failed{reply->ec, std::move(d)};
    }
    diagnostics d;
    auto tokens = parse_token_response(reply->response, reply->now, d);
    if (!tokens) return failed{tokens.error(), std::move(d)};
    return done{std::move(*tokens)};
}

}  // namespace latchkey::flows

#include <latchkey/flows/token_exchange.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace latchkey::flows {
namespace json = boost::json;

namespace {

std::string string_member(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string{};
}

}  // namespace

grant_params token_exchange_request(token_exchange_params p) {
    grant_params g;
    g.token_endpoint = std::move(p.token_endpoint);
    g.grant_type = token_exchange_grant;
    // RFC 8693 §2.1: the subject, and what is asked for: an access token for the audience.
    g.fields = {{"subject_token", p.subject_token.reveal()},
                {"subject_token_type", std::move(p.subject_token_type)},
                {"requested_token_type", access_token_type}};
    if (!p.audience.empty()) g.fields.emplace_back("audience", std::move(p.audience));
    std::string scope;
    for (const auto& s : p.scopes) scope += (scope.empty() ? "" : " ") + s;
    if (!scope.empty()) g.fields.emplace_back("scope", std::move(scope));
    g.auth = std::move(p.auth);
    return g;
}

error_code check_exchange_response(const http_response& resp, diagnostics& diag) {
    error_code ec;
    json::value v = json::parse(resp.body, ec);
    if (ec || !v.is_object()) return {};  // parse_token_response judges the body itself
    const auto& o = v.as_object();
    // §2.2.1: issued_token_type is required, but some servers leave it out; the token in
    // access_token is then the access token that was asked for.
    const auto issued = string_member(o, "issued_token_type");
    if (!issued.empty() && issued != access_token_type && issued != jwt_token_type) {
        diag.client_message = "the identity provider issued a token of type " +
                              escape_untrusted(issued, 80) + ", not an access token (RFC 8693 §2.2.1)";
        return client_errc::bad_json;
    }
    if (string_member(o, "token_type") == "N_A") {
        diag.client_message = "the identity provider issued a token that is not an access token "
                              "(token_type N_A, RFC 8693 §2.2.1)";
        return client_errc::bad_json;
    }
    return {};
}

action token_exchange_flow::next(const event& ev) {
    auto act = grant_.next(ev);
    const auto* reply = std::get_if<http_reply>(&ev);
    if (reply && std::holds_alternative<done>(act)) {
        diagnostics diag;
        if (auto ec = check_exchange_response(reply->response, diag)) return failed{ec, std::move(diag)};
    }
    return act;
}

}  // namespace latchkey::flows

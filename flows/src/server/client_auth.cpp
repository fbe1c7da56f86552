#include <latchkey/flows/server/client_auth.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <latchkey/core/base64url.hpp>

#include <optional>

namespace latchkey::flows::server {
namespace {

error_code fail(oauth_errc e, diagnostics& diag, const char* msg) {
    diag.client_message = msg;
    return make_error_code(e);
}

// Standard base64 (RFC 4648 §4) through the base64url decoder: swap the two characters
// that differ, after refusing the url-safe ones (they are not valid here).
std::optional<std::string> base64_decode(std::string_view s) {
    std::string t(s);
    for (char& c : t) {
        if (c == '-' || c == '_') return std::nullopt;
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return base64url_decode(t);
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = s[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (a != prefix[i]) return false;
    }
    return true;
}

result<presented_client> parse_basic(std::string_view authorization, diagnostics& diag) {
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    if (!iequals_prefix(authorization, "basic "))
        return fail(oauth_errc::invalid_client, diag, "unsupported Authorization scheme");
    auto raw = base64_decode(authorization.substr(6));
    const auto colon = raw ? raw->find(':') : std::string::npos;
    if (colon == std::string::npos)
        return fail(oauth_errc::invalid_client, diag, "malformed Basic credentials");
    auto id = form_decode(std::string_view(*raw).substr(0, colon));
    auto pw = form_decode(std::string_view(*raw).substr(colon + 1));
    if (!id || !pw || id->empty())
        return fail(oauth_errc::invalid_client, diag, "malformed Basic credentials");
    return presented_client{client_auth_method::client_secret_basic, std::move(*id), secret(std::move(*pw))};
}

}  // namespace

result<presented_client> parse_client_auth(std::string_view authorization, const form& params,
                                           diagnostics& diag) {
    const auto body_id = params.get("client_id");
    const auto body_secret = params.get("client_secret");
    if (!authorization.empty()) {
        auto basic = parse_basic(authorization, diag);
        if (!basic) return basic;
        if (body_secret)
            return fail(oauth_errc::invalid_request, diag, "client authenticated by more than one method");
        if (body_id && *body_id != basic->client_id)
            return fail(oauth_errc::invalid_request, diag, "client_id differs from the authenticated client");
        return basic;
    }
    if (!body_id) return fail(oauth_errc::invalid_request, diag, "client_id is missing");
    if (body_secret)
        return presented_client{client_auth_method::client_secret_post, std::string(*body_id),
                                secret(std::string(*body_secret))};
    return presented_client{client_auth_method::none, std::string(*body_id), {}};
}

error_code authenticate_client(const presented_client& presented, const client_record& client,
                               diagnostics& diag) {
    constexpr const char* msg = "client authentication failed";
    if (presented.client_id != client.client_id) return fail(oauth_errc::invalid_client, diag, msg);
    if (client.is_public()) {
        if (presented.method != client_auth_method::none) return fail(oauth_errc::invalid_client, diag, msg);
        return {};
    }
    if (presented.method == client_auth_method::none || client.secret_hash.empty())
        return fail(oauth_errc::invalid_client, diag, msg);
    if (!token_matches_hash(presented.client_secret.reveal(), client.secret_hash))
        return fail(oauth_errc::invalid_client, diag, msg);
    return {};
}

}  // namespace latchkey::flows::server

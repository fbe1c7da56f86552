// RFC 7009 token revocation; see revoke.hpp.
#include <latchkey/transport/revoke.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

error_code read_revocation_reply(const http_response& resp, const std::string& endpoint,
                                 diagnostics& diag) {
    if (resp.status == 200) return {};  // §2.2: also for unknown or invalid tokens
    if (auto ec = parse_oauth_error(resp, diag)) {
        diag.client_message = "the identity provider refused to revoke the token (HTTP " +
                              std::to_string(resp.status) + ")";
        return ec;
    }
    if (resp.status == 503) {
        diag.client_message = "the revocation endpoint is temporarily unavailable (HTTP 503)";
        return oauth_errc::temporarily_unavailable;
    }
    diag.client_message = "the revocation endpoint " + endpoint + " answered HTTP " +
                          std::to_string(resp.status);
    return client_errc::bad_http_status;
}

}  // namespace

asio::awaitable<error_code> async_revoke(http_port& http, revoke_params p, diagnostics& diag) {
    if (p.revocation_endpoint.empty()) {
        diag.client_message = "the identity provider advertises no revocation_endpoint";
        co_return client_errc::endpoint_missing;
    }
    std::vector<std::pair<std::string, std::string>> fields{{"token", p.token.reveal()}};
    if (!p.token_type_hint.empty()) fields.emplace_back("token_type_hint", p.token_type_hint);
    if (p.auth.client_id.empty()) p.auth.client_id = p.client_id;
    std::vector<std::pair<std::string, std::string>> headers;
    p.auth.apply(fields, headers);
    auto req = make_form_post(p.revocation_endpoint, fields);
    req.headers.insert(req.headers.end(), headers.begin(), headers.end());
    req.idempotent = true;  // revoking an already revoked token is a no-op (§2.2)

    error_code ec;
    diagnostics http_diag;
    auto resp = co_await http.async_send(std::move(req), ec, http_diag);
    if (ec) {
        diag = std::move(http_diag);
        if (diag.client_message.empty())
            diag.client_message = "revocation request to " + p.revocation_endpoint +
                                  " failed: " + ec.message();
        co_return ec;
    }
    co_return read_revocation_reply(resp, p.revocation_endpoint, diag);
}

asio::awaitable<error_code> async_revoke(http_port& http, std::string revocation_endpoint,
                                         secret token, std::string token_type_hint,
                                         std::string client_id, diagnostics& diag) {
    revoke_params p;
    p.revocation_endpoint = std::move(revocation_endpoint);
    p.token = std::move(token);
    p.token_type_hint = std::move(token_type_hint);
    p.client_id = std::move(client_id);
    co_return co_await async_revoke(http, std::move(p), diag);
}

}  // namespace latchkey::transport

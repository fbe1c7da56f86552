// ID token verification with the client's JWKS cache (see id_token.hpp).
#include <latchkey/transport/id_token.hpp>

#include <latchkey/core/jwt_verify.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

std::size_t jwks_cache::fetches(const std::string& uri) const {
    std::lock_guard lk(mutex_);
    auto it = fetches_.find(uri);
    return it == fetches_.end() ? 0 : it->second;
}

asio::awaitable<result<std::shared_ptr<const jwk_set>>> jwks_cache::async_get(
    http_port& http, std::string uri, bool refetch, diagnostics& diag) {
    if (!refetch) {
        std::lock_guard lk(mutex_);
        if (auto it = sets_.find(uri); it != sets_.end()) co_return it->second;
    }
    {
        std::lock_guard lk(mutex_);
        ++fetches_[uri];
    }
    error_code ec;
    diagnostics http_diag;
    auto resp = co_await http.async_send(make_get(uri), ec, http_diag);
    const std::string what = "cannot verify the ID token: fetching the signing keys from " + uri;
    if (ec) {
        diag = std::move(http_diag);
        diag.client_message = what + " failed: " +
                              (diag.client_message.empty() ? ec.message() : diag.client_message);
        co_return ec;
    }
    if (resp.status != 200) {
        diag.client_message = what + " answered HTTP " + std::to_string(resp.status);
        co_return client_errc::bad_http_status;
    }
    diagnostics parse_diag;
    auto set = parse_jwks(resp.body, parse_diag);
    if (!set) {
        diag.client_message = what + ": " + parse_diag.client_message;
        co_return set.error();
    }
    auto shared = std::make_shared<const jwk_set>(std::move(*set));
    std::lock_guard lk(mutex_);
    sets_[uri] = shared;
    co_return shared;
}

asio::awaitable<result<boost::json::object>> async_verify_id_token(
    http_port& http, const provider_metadata& meta, const std::string& client_id,
    const std::string& id_token, std::optional<std::string> nonce, time_point now,
    diagnostics& diag, jwks_cache& cache) {
    if (meta.jwks_uri.empty()) {
        diag.client_message = "cannot verify the ID token: the identity provider at " +
                              meta.issuer + " advertises no jwks_uri";
        co_return client_errc::endpoint_missing;
    }
    auto keys = co_await cache.async_get(http, meta.jwks_uri, false, diag);
    if (!keys) co_return keys.error();
    // Key rotation: a kid we do not know may be a new key. Refetch once, never more, so a
    // token naming a made-up kid costs one GET, not a loop.
    if (needs_jwks_refetch(id_token, **keys)) {
        keys = co_await cache.async_get(http, meta.jwks_uri, true, diag);
        if (!keys) co_return keys.error();
    }
    id_token_checks checks;
    checks.issuer = meta.issuer;
    checks.client_id = client_id;
    checks.nonce = std::move(nonce);
    checks.now = now;
    diag.clear();
    co_return verify_id_token(id_token, **keys, checks, diag);
}

}  // namespace latchkey::transport

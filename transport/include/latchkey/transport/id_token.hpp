// Verifying an ID token as it arrives (OIDC Core 1.0 §3.1.3.7): the issuer's JWKS is
// fetched from its `jwks_uri` and cached per client (client_services); an unknown `kid` refetches it ONCE
// (the provider may have rotated its keys), then fails.
//
//   diagnostics diag;
//   auto claims = co_await transport::async_verify_id_token(http, meta, client_id, id_token,
//                                                           nonce, clock.now(), diag, jwks);
//   if (!claims) { print(diag.client_message); /* e.g. "ID token rejected: expired at ..." */ }
//
// Every login of the CLI calls it before storing anything; the SDK may use it the same way.
#pragma once

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/provider.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace latchkey::transport {

// JWKS documents by URI. Each client has its own (client_services::jwks); tests make theirs.
// Thread-safe: the map is guarded; fetches run on the caller's executor.
class jwks_cache {
public:
    // The cached set for `uri`, fetched with a GET on first use (`refetch`: always).
    // Errors: the transport error, client_errc::bad_http_status, bad_json, missing_field,
    // each with diag.client_message naming the URI. A failed fetch keeps the old set.
    boost::asio::awaitable<result<std::shared_ptr<const jwk_set>>> async_get(
        http_port& http, std::string uri, bool refetch, diagnostics& diag);

    // GETs of `uri` sent so far (tests, and the one-refetch rule).
    std::size_t fetches(const std::string& uri) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const jwk_set>> sets_;
    std::map<std::string, std::size_t> fetches_;
};

// Signature (RS256/ES256/EdDSA, key from meta.jwks_uri), then iss (meta.issuer, exactly),
// aud/azp (client_id), exp/iat/nbf (120 s skew), sub, and `nonce` when one was sent.
// Returns the verified claims. Errors: client_errc::id_token_invalid / nonce_mismatch with
// diag.client_message naming the failed check ("ID token rejected: audience does not
// include 'latch-cli'"), client_errc::endpoint_missing when the provider has no jwks_uri,
// or the JWKS fetch's error. Supports the cancellation of http_port::async_send. The
// references must outlive the co_await.
boost::asio::awaitable<result<boost::json::object>> async_verify_id_token(
    http_port& http, const provider_metadata& meta, const std::string& client_id,
    const std::string& id_token, std::optional<std::string> nonce, time_point now,
    diagnostics& diag, jwks_cache& cache);

}  // namespace latchkey::transport

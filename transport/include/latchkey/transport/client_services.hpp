// What one client keeps between its logins and refreshes: the ports it talks through and
// its caches (discovery documents, JWKS). The embedder creates it and passes it to
// token_source, async_login and the ID-token check; nothing here is process-wide, so two
// independent clients in one process share no hidden state.
//
//     latchkey::transport::http_client http(io.get_executor());
//     latchkey::transport::real_clock clock(io.get_executor());
//     latchkey::transport::client_services client(http, clock);
//
// Not thread-safe (the JWKS cache is, the rest is not): use it from one thread or strand.
// `http` and `clock` must outlive it and every operation started with it.
#pragma once

#include <latchkey/core/provider.hpp>
#include <latchkey/transport/id_token.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <map>
#include <string>

namespace latchkey::transport {

// Discovery documents (OIDC Discovery 1.0 §4) by issuer, fetched once each.
class discovery_cache {
public:
    // The issuer's metadata, with the endpoints given in `c.endpoints` overriding what it
    // advertises; no round trip when the token and device endpoints are both given.
    // Errors: a transport error (diag.client_message "cannot reach the identity provider:
    // ..."), or the document's (parse_provider_metadata: wrong issuer, bad JSON). Failures
    // are not cached. Supports the cancellation of http_port::async_send.
    boost::asio::awaitable<result<provider_metadata>> async_get(http_port& http,
                                                                const client_config& c,
                                                                diagnostics& diag);
    // Discovery GETs sent so far (tests).
    std::size_t fetches() const noexcept { return fetches_; }

private:
    std::map<std::string, provider_metadata> docs_;
    std::size_t fetches_ = 0;
};

class client_services {
public:
    client_services(http_port& h, clock_port& c) : http(h), clock(c) {}
    client_services(const client_services&) = delete;
    client_services& operator=(const client_services&) = delete;

    http_port& http;
    clock_port& clock;
    discovery_cache discovery;
    jwks_cache jwks;
    // The latest DPoP-Nonce each issuer's token endpoint gave (RFC 9449 §8), by issuer: the
    // next proof carries it, so the nonce challenge costs one round trip per client, not per
    // request.
    std::map<std::string, std::string> dpop_nonces;

    // discovery.async_get(http, c, diag).
    boost::asio::awaitable<result<provider_metadata>> async_discover(const client_config& c,
                                                                     diagnostics& diag);
};

}  // namespace latchkey::transport

// DPoP (RFC 9449) for the library's requests: proofs with the caller's key carrying the
// issuer's latest server nonce (§8), which client_services::dpop_nonces keeps.
#pragma once

#include <latchkey/core/dpop.hpp>
#include <latchkey/transport/client_services.hpp>

#include <string>

namespace latchkey::transport {

// An http_port that passes requests to `inner` and records every answer's DPoP-Nonce
// (§8.2: a server may send a new one with any answer) in `nonce`. Both must outlive it.
class dpop_nonce_recorder final : public http_port {
public:
    dpop_nonce_recorder(http_port& inner, std::string& nonce) : inner_(inner), nonce_(nonce) {}
    boost::asio::awaitable<http_response> async_send(http_request req, error_code& ec, diagnostics& diag) override;

private:
    http_port& inner_;
    std::string& nonce_;
};

// Whether to send proofs to an IdP: always when `forced`, else when it advertises
// dpop_signing_alg_values_supported with the alg of `key` (ES256, RS256...).
bool dpop_wanted(const provider_metadata& m, const EVP_PKEY* key, bool forced);

// A proof for `method url` signed with `key`, with the issuer's remembered nonce (if any)
// and, for a resource request, `access_token`'s hash. Errors: key_error.
result<std::string> make_dpop_proof_for(const client_services& client, const std::string& issuer, EVP_PKEY* key,
                                        std::string method, std::string url, std::string access_token = {});

}  // namespace latchkey::transport

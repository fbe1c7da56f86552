#include <latchkey/transport/dpop.hpp>

#include <latchkey/core/jwk.hpp>

#include <algorithm>
#include <chrono>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

// §8.1: a nonce is 1*NQCHAR (printable ASCII but the double quote and backslash); ours stay short.
bool plausible_nonce(std::string_view n) {
    if (n.empty() || n.size() > 512) return false;
    return std::all_of(n.begin(), n.end(), [](char c) { return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\'; });
}

}  // namespace

asio::awaitable<http_response> dpop_nonce_recorder::async_send(http_request req, error_code& ec, diagnostics& diag) {
    http_response resp = co_await inner_.async_send(std::move(req), ec, diag);
    if (!ec)
        if (auto n = resp.header("DPoP-Nonce"); plausible_nonce(n)) nonce_ = std::move(n);
    co_return resp;
}

bool dpop_wanted(const provider_metadata& m, const EVP_PKEY* key, bool forced) {
    if (forced) return true;
    const auto alg = jws_alg_for(kind_of(key));
    const auto& algs = m.dpop_signing_alg_values_supported;
    return !alg.empty() && std::find(algs.begin(), algs.end(), alg) != algs.end();
}

result<std::string> make_dpop_proof_for(const client_services& client, const std::string& issuer, EVP_PKEY* key,
                                        std::string method, std::string url, std::string access_token) {
    dpop_proof_request r;
    r.method = std::move(method);
    r.url = std::move(url);
    // The proof's iat is wall-clock time (the server compares it with its own clock).
    r.iat = std::chrono::duration_cast<std::chrono::seconds>(client.clock.now().time_since_epoch()).count();
    if (auto it = client.dpop_nonces.find(issuer); it != client.dpop_nonces.end()) r.nonce = it->second;
    r.access_token = std::move(access_token);
    return make_dpop_proof(key, r);
}

}  // namespace latchkey::transport

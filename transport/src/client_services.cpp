#include <latchkey/transport/client_services.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

asio::awaitable<result<provider_metadata>> discovery_cache::async_get(http_port& http,
                                                                      const client_config& c,
                                                                      diagnostics& diag) {
    const auto& e = c.endpoints;
    if (!e.token_endpoint.empty() && !e.device_authorization_endpoint.empty())
        co_return e;  // everything given explicitly: no discovery round trip
    if (auto it = docs_.find(c.issuer); it != docs_.end()) co_return merge_endpoints(e, it->second);
    if (c.issuer.empty()) {
        diag.client_message = "no issuer is known for this client; run `latch login` with --issuer";
        co_return client_errc::config_missing;
    }
    error_code ec;
    ++fetches_;
    auto resp = co_await http.async_send(make_get(discovery_url(c.issuer)), ec, diag);
    if (ec) {
        diag.client_message = "cannot reach the identity provider: " + diag.client_message;
        co_return ec;
    }
    auto m = parse_provider_metadata(resp, c.issuer, diag);
    if (!m) co_return m.error();
    docs_[c.issuer] = *m;
    co_return merge_endpoints(e, *m);
}

asio::awaitable<result<provider_metadata>> client_services::async_discover(const client_config& c,
                                                                           diagnostics& diag) {
    co_return co_await discovery.async_get(http, c, diag);
}

}  // namespace latchkey::transport

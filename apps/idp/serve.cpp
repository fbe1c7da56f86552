// `latch-idp serve`: opens the data directory, loads the keys, checks the configured limits,
// listens, prints the URL (one line on stdout), serves until SIGTERM/SIGINT, then drains.
#include "idp.hpp"

#include <fstream>
#include <latchkey/flows/server/dpop.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>
#include <latchkey/flows/server/user_code.hpp>

#include <latchkey/core/random.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>
#include <iostream>

namespace latchkey::idp {

namespace {

// "127.0.0.1:8080", "[::1]:0". false when malformed.
bool split_listen(const std::string& s, std::string& host, std::uint16_t& port) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon + 1 == s.size()) return false;
    host = s.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned long p = 0;
    for (char c : s.substr(colon + 1)) {
        if (c < '0' || c > '9') return false;
        p = p * 10 + static_cast<unsigned long>(c - '0');
        if (p > 65535) return false;
    }
    port = static_cast<std::uint16_t>(p);
    return !host.empty();
}

std::string url_host(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// RFC 8628 §5.1: refuse limits under which a user code could be guessed (user_code.hpp).
std::size_t checked_user_code_length(const flows::server::user_code_limits& limits) {
    auto len = flows::server::user_code_length(limits);
    if (!len) {
        fail("latch-idp: the device-flow limits allow too many guesses for any user code length");
        return 0;
    }
    std::fprintf(stderr, "latch-idp: user codes have %zu characters (guess probability 2^%.1f)\n", *len,
                 flows::server::log2_guess_probability(limits, *len));
    return *len;
}

}  // namespace

int serve(const serve_options& o) {
    std::string host;
    std::uint16_t port = 0;
    if (!split_listen(o.listen, host, port)) return fail("latch-idp: --listen wants ADDRESS:PORT, e.g. 127.0.0.1:0");
    const flows::server::user_code_limits limits;
    const std::size_t code_length = checked_user_code_length(limits);
    if (code_length == 0) return 1;
    diagnostics diag;
    auto store = open_data_dir(o.data, diag);
    if (!store) return fail("latch-idp: " + diag.client_message);
    auto sealing_key = load_or_create_sealing_key(o.data, diag);
    if (!sealing_key) return fail("latch-idp: " + diag.client_message);
    // The longest-lived token a key signs: access tokens or ID tokens (1 h).
    if (!o.signing_alg.empty() && !known_signing_alg(o.signing_alg))
        return fail("latch-idp: --signing-alg wants ES256 or RS256");
    if (o.tls_cert.empty() != o.tls_key.empty()) return fail("latch-idp: --tls-cert and --tls-key go together");
    auto keys = await_sync(
        load_or_create_keys(**store, diag, std::max<std::int64_t>(o.access_token_ttl, 3600), o.signing_alg));
    if (!keys) return fail("latch-idp: signing keys: " + (diag.client_message.empty() ? keys.error().message() : diag.client_message));

    ops_state ops;
    if (!o.audit_log.empty() && ops.audit.open(o.audit_log, diag)) return fail("latch-idp: " + diag.client_message);
    std::string metrics_host;
    std::uint16_t metrics_port = 0;
    if (!o.metrics_listen.empty() && !split_listen(o.metrics_listen, metrics_host, metrics_port))
        return fail("latch-idp: --metrics-listen wants ADDRESS:PORT, e.g. 127.0.0.1:9464");

    boost::asio::io_context io(1);
    // Hashing: one thread per core, at most 64 sign-ins waiting (then 503 + Retry-After).
    constexpr std::size_t hashing_capacity = 64;
    ts::password_hasher hasher(std::max(1u, std::thread::hardware_concurrency()), hashing_capacity);
    idp_state state{.config = {},
                    .store = **store,
                    .keys = std::move(*keys),
                    .hasher = hasher,
                    .discovery = {},
                    .jwks = {},
                    .code_limits = limits,
                    .user_code_length = code_length,
                    .csrf_key = random_urlsafe(32),
                    .code_attempts = flows::server::attempt_limiter(10, limits.max_attempts_per_minute)};
    state.account_attempts = flows::server::attempt_limiter(o.sign_in_limit_per_ip, o.sign_in_limit_total);
    ts::http_server server(io.get_executor(),
                           [&state](ts::server_request r) { return handle(state, std::move(r)); });
    state.ops = &ops;
    state.server = &server;
    state.hashing_capacity = hashing_capacity;
    if (!o.tls_cert.empty() && server.enable_tls(o.tls_cert, o.tls_key, diag))
        return fail("latch-idp: " + diag.client_message);
    auto bound = server.listen(host, port, diag);
    if (!bound) return fail("latch-idp: " + diag.client_message);
    // /metrics on a listener of its own (plain HTTP): the operator chooses who reaches it.
    ts::http_server metrics_server(io.get_executor(),
                                   [&state](ts::server_request r) { return handle_ops(state, std::move(r)); });
    if (!o.metrics_listen.empty()) {
        auto mbound = metrics_server.listen(metrics_host, metrics_port, diag);
        if (!mbound) return fail("latch-idp: --metrics-listen: " + diag.client_message);
        std::fprintf(stderr, "latch-idp: metrics on http://%s:%u/metrics\n", url_host(metrics_host).c_str(),
                     static_cast<unsigned>(*mbound));
    }
    const std::string scheme = o.tls_cert.empty() ? "http://" : "https://";
    const std::string url = scheme + url_host(host) + ":" + std::to_string(*bound);
    state.config.issuer = o.issuer.empty() ? url : o.issuer;
    while (state.config.issuer.size() > 1 && state.config.issuer.back() == '/') state.config.issuer.pop_back();
    state.config.access_token_ttl = o.access_token_ttl;
    state.config.device_interval = o.device_interval;
    state.https = state.config.issuer.rfind("https://", 0) == 0;
    state.sealing_key = std::move(*sealing_key);
    state.dpop_nonce_key = flows::server::dpop_nonce_key(state.sealing_key);
    if (!o.initial_access_token_file.empty()) {
        std::ifstream in(o.initial_access_token_file);
        std::string token;
        if (!in || !std::getline(in, token) || token.size() < 16)
            return fail("latch-idp: --initial-access-token-file: cannot read a token of at least 16 characters from " +
                        o.initial_access_token_file);
        state.initial_access_token_hash = flows::server::hash_token(token);
    }
    state.trusted_origins.push_back(flows::server::url_origin(state.config.issuer));
    for (const auto& origin : o.trusted_origins) {
        auto canonical = flows::server::url_origin(origin);
        if (canonical.empty()) return fail("latch-idp: --trusted-origin wants an http(s) origin, e.g. https://app.example");
        state.trusted_origins.push_back(std::move(canonical));
    }
    state.discovery = flows::server::discovery_document(state.config.issuer, state.keys.algs);
    state.jwks = boost::json::serialize(state.keys.jwks);

    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        std::fprintf(stderr, "latch-idp: draining (%zu connections open)\n", server.open_connections());
        server.drain(std::chrono::seconds(10));
        metrics_server.drain(std::chrono::seconds(1));
    });
    server.start();
    if (!o.metrics_listen.empty()) metrics_server.start();
    std::cout << url << std::endl;  // one line: tests and scripts read the URL from here
    io.run();
    // Drained: the signal_set is about to be destroyed, which restores the default action, and
    // a repeated SIGTERM (a supervisor insisting) would then kill a clean exit. Ignore them.
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    std::fprintf(stderr, "latch-idp: stopped\n");
    return 0;
}

}  // namespace latchkey::idp

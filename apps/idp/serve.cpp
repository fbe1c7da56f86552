// `latch-idp serve`: opens the data directory, loads the keys, checks the configured limits,
// listens, prints the URL (one line on stdout), serves until SIGTERM/SIGINT, then drains.
// With platforms in DATA/platforms (latch-idp platform add) it serves those instead
// (serve_platforms.cpp).
#include "serve.hpp"

#include <latchkey/flows/server/client_address.hpp>
#include <latchkey/flows/server/sealed.hpp>
#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/flows/server/user_code.hpp>

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/sealed.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

namespace latchkey::idp {

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

// --trusted-proxy and --behind-proxy: the parsed networks, or why they cannot be used.
static std::string trusted_proxies(const serve_options& o, std::vector<flows::server::cidr>& out) {
    for (const auto& p : o.trusted_proxies) {
        auto net = flows::server::parse_cidr(p);
        if (!net) return "--trusted-proxy wants an address or a network, e.g. 10.0.0.0/8 (got " + p + ")";
        out.push_back(*net);
    }
    if (o.behind_proxy && out.empty())
        return "--behind-proxy needs the proxies' addresses (--trusted-proxy CIDR, repeatable): without them every "
               "client would share the proxy's address and one rate-limit bucket";
    return {};
}

bool open_served(served_data& out, const serve_options& o, const store_location& at, const std::string& secret_key_file,
                 ts::password_hasher& hasher, const flows::server::user_code_limits& limits, std::size_t code_length,
                 const std::string& what) {
    diagnostics diag;
    if (!at.database.empty() && ::mkdir(at.data.c_str(), 0700) != 0 && errno != EEXIST) {
        fail(what + "cannot create the data directory " + at.data + ": " + std::strerror(errno));
        return false;
    }
    auto store = open_store(at, diag);
    if (!store) {
        fail(what + diag.client_message);
        return false;
    }
    auto sealing_key = load_or_create_sealing_key(at.data, diag, secret_key_file);
    if (!sealing_key) {
        fail(what + diag.client_message);
        return false;
    }
    // The longest-lived token a key signs: access tokens or ID tokens (1 h).
    auto keys = await_sync(
        load_or_create_keys(**store, diag, std::max<std::int64_t>(o.access_token_ttl, 3600), o.signing_alg));
    if (!keys) {
        fail(what + "signing keys: " + (diag.client_message.empty() ? keys.error().message() : diag.client_message));
        return false;
    }
    if (!o.audit_log.empty() && out.ops->audit.open(o.audit_log, diag)) {
        fail(what + diag.client_message);
        return false;
    }
    out.mail = std::make_unique<mail_sink>();
    if ((!o.mail_file.empty() && out.mail->open_file(o.mail_file, diag)) ||
        (!o.mail_command.empty() && out.mail->set_command(o.mail_command, diag))) {
        fail(what + diag.client_message);
        return false;
    }
    out.store = std::move(*store);
    out.state.reset(new idp_state{.config = {},
                                  .store = *out.store,
                                  .keys = std::move(*keys),
                                  .hasher = hasher,
                                  .discovery = {},
                                  .jwks = {},
                                  .code_limits = limits,
                                  .user_code_length = code_length,
                                  // Replicas given the same sealing key accept each other's forms.
                                  .csrf_key = flows::server::keyed_hash(*sealing_key, "latch-idp csrf key v1"),
                                  .code_attempts = flows::server::attempt_limiter(10, limits.max_attempts_per_minute)});
    auto& state = *out.state;
    state.account_attempts = flows::server::attempt_limiter(o.sign_in_limit_per_ip, o.sign_in_limit_total);
    state.shared_limits = !at.database.empty();
    state.sign_in_limit_per_ip = o.sign_in_limit_per_ip;
    state.sign_in_limit_total = o.sign_in_limit_total;
    trusted_proxies(o, state.trusted_proxies);  // checked by serve()
    state.ops = out.ops.get();
    state.hashing_capacity = hashing_capacity;
    state.sealing_key = std::move(*sealing_key);
    state.dpop_nonce_key = flows::server::dpop_nonce_key(state.sealing_key);
    if (out.mail->enabled()) state.mail = out.mail.get();
    return true;
}

bool finish_state(idp_state& state, const serve_options& o, std::string issuer, const std::string& iat_file,
                  const std::string& what) {
    state.config.issuer = std::move(issuer);
    while (state.config.issuer.size() > 1 && state.config.issuer.back() == '/') state.config.issuer.pop_back();
    state.config.access_token_ttl = o.access_token_ttl;
    state.config.device_interval = o.device_interval;
    state.https = state.config.issuer.rfind("https://", 0) == 0;
    state.cookies.https = state.https;
    if (!iat_file.empty()) {
        std::ifstream in(iat_file);
        std::string token;
        if (!in || !std::getline(in, token) || token.size() < 16) {
            fail(what + "--initial-access-token-file: cannot read a token of at least 16 characters from " + iat_file);
            return false;
        }
        state.initial_access_token_hash = flows::server::hash_token(token);
    }
    state.trusted_origins.push_back(flows::server::url_origin(state.config.issuer));
    for (const auto& origin : o.trusted_origins) {
        auto canonical = flows::server::url_origin(origin);
        if (canonical.empty()) {
            fail(what + "--trusted-origin wants an http(s) origin, e.g. https://app.example");
            return false;
        }
        state.trusted_origins.push_back(std::move(canonical));
    }
    state.discovery = flows::server::discovery_document(state.config.issuer, state.keys.algs);
    state.jwks = boost::json::serialize(state.keys.jwks);
    return true;
}

std::string listeners::listen(const serve_options& o, std::uint16_t* bound_port) {
    std::string host, metrics_host;
    std::uint16_t port = 0, metrics_port = 0;
    diagnostics diag;
    split_listen(o.listen, host, port);  // checked by serve()
    if (!o.tls_cert.empty() && main.enable_tls(o.tls_cert, o.tls_key, diag)) {
        fail("latch-idp: " + diag.client_message);
        return {};
    }
    auto bound = main.listen(host, port, diag);
    if (!bound) {
        fail("latch-idp: " + diag.client_message);
        return {};
    }
    // /metrics on a listener of its own (plain HTTP): the operator chooses who reaches it.
    if (!o.metrics_listen.empty()) {
        split_listen(o.metrics_listen, metrics_host, metrics_port);
        auto mbound = metrics.listen(metrics_host, metrics_port, diag);
        if (!mbound) {
            fail("latch-idp: --metrics-listen: " + diag.client_message);
            return {};
        }
        std::fprintf(stderr, "latch-idp: metrics on http://%s:%u/metrics\n", url_host(metrics_host).c_str(),
                     static_cast<unsigned>(*mbound));
    }
    if (bound_port) *bound_port = *bound;
    const std::string scheme = o.tls_cert.empty() ? "http://" : "https://";
    return scheme + url_host(host) + ":" + std::to_string(*bound);
}

int listeners::run(boost::asio::io_context& io, const serve_options& o, const std::string& url) {
    {
        boost::asio::signal_set signals(io, SIGTERM, SIGINT);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            if (on_drain) on_drain();
            std::fprintf(stderr, "latch-idp: draining (%zu connections open)\n", main.open_connections());
            main.drain(std::chrono::seconds(10));
            metrics.drain(std::chrono::seconds(1));
        });
        main.start();
        if (!o.metrics_listen.empty()) metrics.start();
        std::cout << url << std::endl;  // one line: tests and scripts read the URL from here
        io.run();
    }
    // Drained. Destroying the signal_set has just put back the default action (asio's
    // signal_set_service does so for the last registration), and a repeated SIGTERM (a
    // supervisor insisting) would then kill a clean exit: ignore them from here on. Setting
    // SIG_IGN before that destruction was undone by it (e2e idp_serve_options, 1 in 3).
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    std::fprintf(stderr, "latch-idp: stopped\n");
    return 0;
}

void attach_social(served_data& d, boost::asio::any_io_executor ex) {
    d.social = std::make_unique<social_hub>(std::move(ex));
    d.state->social = d.social.get();
}

int serve(const serve_options& o) {
    std::string host, metrics_host;
    std::uint16_t port = 0, metrics_port = 0;
    if (!split_listen(o.listen, host, port)) return fail("latch-idp: --listen wants ADDRESS:PORT, e.g. 127.0.0.1:0");
    if (!o.signing_alg.empty() && !known_signing_alg(o.signing_alg))
        return fail("latch-idp: --signing-alg wants ES256 or RS256");
    if (o.tls_cert.empty() != o.tls_key.empty()) return fail("latch-idp: --tls-cert and --tls-key go together");
    if (!o.metrics_listen.empty() && !split_listen(o.metrics_listen, metrics_host, metrics_port))
        return fail("latch-idp: --metrics-listen wants ADDRESS:PORT, e.g. 127.0.0.1:9464");
    const flows::server::user_code_limits limits;
    const std::size_t code_length = checked_user_code_length(limits);
    if (code_length == 0) return 1;
    std::vector<flows::server::cidr> proxies;
    if (auto e = trusted_proxies(o, proxies); !e.empty()) return fail("latch-idp: " + e);
    if (auto platforms = list_platforms(o.data); !platforms.empty()) {
        if (!o.database.empty() || !o.secret_key_file.empty())
            return fail("latch-idp: --database and --secret-key-file serve one platform; DATA has platforms "
                        "(each keeps its own SQLite database and key in DATA/platforms/NAME)");
        return serve_platforms(o, platforms, code_length);
    }

    ts::password_hasher hasher(std::max(1u, std::thread::hardware_concurrency()), hashing_capacity);
    served_data data;
    const store_location at{o.data, o.database, o.database_pool};
    if (!open_served(data, o, at, o.secret_key_file, hasher, limits, code_length, "latch-idp: ")) return 1;
    auto& state = *data.state;
    boost::asio::io_context io(1);
    attach_social(data, io.get_executor());
    ts::http_server server(io.get_executor(),
                           [&state](ts::server_request r) { return handle(state, std::move(r)); });
    ts::http_server metrics_server(io.get_executor(),
                                   [&state](ts::server_request r) { return handle_ops(state, std::move(r)); });
    state.server = &server;
    listeners l{server, metrics_server};
    const std::string url = l.listen(o, nullptr);
    if (url.empty()) return 1;
    const std::string issuer = o.issuer.empty() ? url : o.issuer;
    if (!finish_state(state, o, issuer, o.initial_access_token_file, "latch-idp: ")) return 1;
    return l.run(io, o, url);
}

}  // namespace latchkey::idp

// token_server: an async HTTP server that calls an upstream API on behalf of each request,
// with the token `latch login` stored. It shows the SDK pattern for servers:
//
//   * ONE token_source per process, shared by every request handler;
//   * every handler just does `co_await source.token(diag)` — the source refreshes lazily
//     when the token is within 60 s of expiry, once for all concurrent requests (and once
//     across processes, through the lock beside the credentials file);
//   * it reads the same store the CLI writes ($LATCH_HOME, context from config.json);
//   * a client-credentials or machine context is renewed with the client's secret or key,
//     which latch never stores: here from LATCH_CLIENT_SECRET / LATCH_MACHINE_KEY.
//
// usage: token_server --upstream URL [--port N] [--context NAME] [--max-requests N]
//   URL may also come from LATCH_UPSTREAM_URL (e.g. the IdP's userinfo endpoint).
//   Prints "listening on http://127.0.0.1:PORT" on stdout once ready. Each request is
//   answered with JSON: {"upstream_status":200,"token":"at-1…x9","refreshes":1}, or 401
//   with {"error":...,"login_required":true} when the session needs `latch login`.
//   On exit (after --max-requests, SIGINT or SIGTERM) it logs the refresh count.
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using namespace latchkey;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

struct settings {
    std::string upstream;
    unsigned short port = 0;
    std::string context;
    long max_requests = 0;  // 0: serve until a signal
};

// Everything the handlers share: one HTTP client, one clock, ONE token source.
// Where renewals find the client's secret or key (transport/renewal.hpp).
transport::token_source_options renewal_options() {
    transport::token_source_options o;
    o.auth.client_secret = [](const stored_credentials& c,
                              diagnostics& d) -> result<std::optional<secret>> {
        if (c.method != login_method::client_credentials) return std::optional<secret>{};
        const char* v = std::getenv("LATCH_CLIENT_SECRET");
        if (v && *v) return std::optional<secret>(secret{v});
        d.client_message = "set LATCH_CLIENT_SECRET to renew a client-credentials context";
        return client_errc::config_missing;
    };
    o.auth.machine_key = [](const stored_credentials&, diagnostics& d) -> result<transport::signing_key> {
        const char* pem = std::getenv("LATCH_MACHINE_KEY");
        if (!pem || !*pem) {
            d.client_message = "set LATCH_MACHINE_KEY to renew a machine context";
            return client_errc::key_error;
        }
        auto key = read_private_key_pem(pem, d);
        if (!key) return key.error();
        auto kid = jwk_thumbprint(key->get());
        if (!kid) return kid.error();
        return transport::signing_key{std::move(*key), std::move(*kid), "LATCH_MACHINE_KEY"};
    };
    return o;
}

struct server_state {
    server_state(asio::io_context& io, credential_store store, std::string context,
                 settings s)
        : io(io), http(io.get_executor()), clock(io.get_executor()),
          source(io.get_executor(), http, clock, std::move(store), std::move(context),
                 renewal_options()),
          cfg(std::move(s)) {}

    asio::io_context& io;
    transport::http_client http;
    transport::real_clock clock;
    transport::token_source source;
    settings cfg;
    long served = 0;
    std::optional<tcp::acceptor> acceptor;
};

void log_summary(const server_state& st) {
    std::fprintf(stderr,
                 "token_server: served %ld requests; %zu token refreshes sent by this "
                 "process, %zu adopted from another process\n",
                 st.served, st.source.refresh_count(), st.source.adopted_count());
}

void shut_down(server_state& st) {
    log_summary(st);
    if (st.acceptor) {
        error_code ignored;
        st.acceptor->close(ignored);
    }
    st.io.stop();
}

http::response<http::string_body> json_response(unsigned status, const json::value& body,
                                                 unsigned version, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(status), version};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    res.body() = json::serialize(body) + "\n";
    res.prepare_payload();
    return res;
}

// The handler: get a token (maybe refreshing, shared with every concurrent request), call
// the upstream with it, answer what happened. Never prints the whole token.
asio::awaitable<http::response<http::string_body>> async_handle(
    server_state& st, const http::request<http::string_body>& req) {
    const bool keep_alive = req.keep_alive();
    diagnostics diag;
    auto token = co_await st.source.token(diag);
    if (!token) {
        const bool login = needs_login(token.error());
        std::fprintf(stderr, "token_server: %s -> no token: %s\n",
                     std::string(req.target()).c_str(), diag.to_string().c_str());
        co_return json_response(login ? 401 : 503,
                                json::object{{"error", diag.to_string()},
                                             {"login_required", login}},
                                req.version(), keep_alive);
    }
    if (!diag.client_message.empty())  // refresh failed but the old token still works
        std::fprintf(stderr, "token_server: warning: %s\n", diag.to_string().c_str());

    http_request up = make_get(st.cfg.upstream);
    up.headers.emplace_back("Authorization", "Bearer " + token->reveal());
    error_code ec;
    diagnostics up_diag;
    auto resp = co_await st.http.async_send(std::move(up), ec, up_diag);
    json::object body{{"token", token->redacted()},
                      {"refreshes", st.source.refresh_count()}};
    if (ec) body["upstream_error"] = up_diag.to_string();
    else body["upstream_status"] = resp.status;
    std::fprintf(stderr, "token_server: %s -> upstream %s, token %s, refreshes so far %zu\n",
                 std::string(req.target()).c_str(),
                 ec ? ec.message().c_str() : std::to_string(resp.status).c_str(),
                 token->redacted().c_str(), st.source.refresh_count());
    co_return json_response(ec ? 502 : 200, body, req.version(), keep_alive);
}

asio::awaitable<void> async_session(server_state* st, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        stream.expires_after(std::chrono::seconds(30));
        http::request<http::string_body> req;
        auto [rec, rn] = co_await http::async_read(stream, buffer, req, use_nothrow);
        (void)rn;
        if (rec) break;  // closed by the client, timeout, or a malformed request
        auto res = co_await async_handle(*st, req);
        const bool keep = res.keep_alive();
        auto [wec, n] = co_await http::async_write(stream, res, use_nothrow);
        (void)n;
        if (wec) break;
        ++st->served;
        if (st->cfg.max_requests > 0 && st->served >= st->cfg.max_requests) {
            shut_down(*st);
            break;
        }
        if (!keep) break;
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> async_accept_loop(server_state* st) {
    for (;;) {
        auto [ec, socket] = co_await st->acceptor->async_accept(use_nothrow);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) continue;
        asio::co_spawn(st->io, async_session(st, std::move(socket)), asio::detached);
    }
}

bool parse_args(int argc, char** argv, settings& s) {
    if (const char* u = std::getenv("LATCH_UPSTREAM_URL")) s.upstream = u;
    if (const char* c = std::getenv("LATCH_CONTEXT")) s.context = c;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--upstream" && v) s.upstream = argv[++i];
        else if (a == "--port" && v) s.port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--context" && v) s.context = argv[++i];
        else if (a == "--max-requests" && v) s.max_requests = std::atol(argv[++i]);
        else return false;
    }
    return !s.upstream.empty();
}

}  // namespace

int main(int argc, char** argv) {
    settings cfg;
    if (!parse_args(argc, argv, cfg)) {
        std::fprintf(stderr, "usage: token_server --upstream URL [--port N] [--context NAME] "
                             "[--max-requests N]   (or LATCH_UPSTREAM_URL)\n");
        return 2;
    }
    diagnostics diag;
    auto home = credential_store::default_home(diag);
    if (!home) {
        std::fprintf(stderr, "token_server: %s\n", diag.to_string().c_str());
        return 1;
    }
    credential_store store(*home);
    if (cfg.context.empty()) {
        auto conf = store.load_config(diag);
        cfg.context = conf ? conf->current_context : "default";
    }

    asio::io_context io(1);
    server_state st(io, store, cfg.context, cfg);
    error_code ec;
    st.acceptor.emplace(io);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), cfg.port);
    st.acceptor->open(ep.protocol(), ec);
    if (!ec) st.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) st.acceptor->bind(ep, ec);
    if (!ec) st.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::fprintf(stderr, "token_server: cannot listen on 127.0.0.1:%u: %s\n", cfg.port,
                     ec.message().c_str());
        return 1;
    }
    std::printf("listening on http://127.0.0.1:%u (context '%s', store %s)\n",
                st.acceptor->local_endpoint().port(), cfg.context.c_str(),
                store.credentials_path(cfg.context).c_str());
    std::fflush(stdout);

    asio::signal_set signals(io, SIGINT, SIGTERM);
    auto on_signal = [&st](const error_code& e, int) {
        if (!e) shut_down(st);
    };
    signals.async_wait(on_signal);
    asio::co_spawn(io, async_accept_loop(&st), asio::detached);
    io.run();
    return 0;
}

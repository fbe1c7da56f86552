// web_login: a web server that signs ITS OWN users in through an IdP (authorization code +
// PKCE), with transport::web_login and transport::web_sessions on the server's io_context.
//
// usage: web_login --issuer URL --client-id ID [--client-secret-file F]
//                  [--listen 127.0.0.1:0] [--scope "openid profile email"] [--max-pending N]
//   The client must be registered at the IdP with the redirect URI
//   http://HOST:PORT/callback. With --client-secret-file it authenticates with
//   client_secret_basic (the secret never goes on argv); without, it is a public client.
//   Prints "listening on http://HOST:PORT" once the IdP was discovered.
//
// Routes: GET /  (who is signed in, a sign-in link or a sign-out button)
//         GET /login     302 to the IdP, with a cookie binding the login to this browser
//         GET /callback  the IdP's redirect: 303 to / with a session cookie, or 400 and
//                        no session when it does not belong to this browser's login
//         GET /me        {"sub":...,"name":...,"email":...} or 401
//         POST /logout   revokes the user's refresh token (else the access token) at the
//                        IdP (RFC 7009), drops the session, clears the cookie, 303 to /
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/web_login.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using namespace latchkey;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// What a route answers; turned into a Beast response by the server loop below.
struct reply {
    unsigned status = 200;
    std::string content_type = "text/html; charset=utf-8";
    std::string body;
    std::vector<std::string> cookies;  // Set-Cookie values
    std::string location;
};

std::string escape_html(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

reply page(unsigned status, const std::string& html_body) {
    return {status, "text/html; charset=utf-8",
            "<!doctype html><meta charset=utf-8><title>web_login</title>" + html_body + "\n"};
}

reply redirect(unsigned status, std::string to, std::vector<std::string> cookies) {
    return {status, "text/plain", "", std::move(cookies), std::move(to)};
}

reply json_reply(unsigned status, const json::object& body) {
    return {status, "application/json", json::serialize(body) + "\n"};
}

json::object who(const transport::web_user& u) {
    return {{"sub", u.subject}, {"name", u.name}, {"email", u.email},
            {"preferred_username", u.preferred_username}};
}

reply home(const transport::web_sign_in* s) {
    if (!s) return page(200, "<p>Not signed in. <a href=\"/login\">Sign in</a></p>");
    return page(200, "<p>Signed in as <b id=name>" + escape_html(s->user.name) + "</b> (" +
                         escape_html(s->user.email) + ")</p><form method=post action=/logout>"
                         "<button type=submit>Sign out</button></form>");
}

// ---- the part an embedder writes: one login, one session table, five routes ----------
struct site {
    transport::web_login& login;
    transport::web_sessions& sessions;
};

asio::awaitable<reply> route(site app, http::verb method, std::string target, std::string cookies) {
    diagnostics diag;
    const std::string path = target.substr(0, target.find('?'));
    if (method == http::verb::get && path == "/") co_return home(app.sessions.find(cookies));
    if (method == http::verb::get && path == "/login") {
        auto start = app.login.begin(diag);
        if (!start) co_return page(transport::web_login_status(start.error()), escape_html(diag.client_message));
        co_return redirect(302, start->authorize_url, {start->set_cookie});
    }
    if (method == http::verb::get && path == "/callback") {
        auto signed_in = co_await app.login.async_complete(target, cookies, diag);
        if (!signed_in) {
            std::fprintf(stderr, "web_login: callback refused: %s\n", diag.to_string().c_str());
            co_return page(transport::web_login_status(signed_in.error()), "<p>Sign-in failed: " +
                           escape_html(diag.client_message) + "</p><a href=\"/login\">Try again</a>");
        }
        co_return redirect(303, "/", {app.login.clear_cookie(), app.sessions.create(std::move(*signed_in))});
    }
    if (method == http::verb::get && path == "/me") {
        if (auto* s = app.sessions.find(cookies)) co_return json_reply(200, who(s->user));
        co_return json_reply(401, {{"error", "not signed in"}});
    }
    if (method == http::verb::post && path == "/logout") {
        if (auto s = app.sessions.take(cookies)) {
            auto ec = co_await app.login.async_revoke(s->tokens, diag);
            std::fprintf(stderr, "web_login: %s signed out; revocation at the IdP: %s\n",
                         escape_untrusted(s->user.subject, 80).c_str(), ec ? diag.to_string().c_str() : "ok");
        }
        co_return redirect(303, "/", {app.sessions.clear_cookie()});
    }
    co_return page(404, "<p>Not found</p>");
}
// ---- end of the embedder's part --------------------------------------------------------

http::response<http::string_body> to_beast(reply r, unsigned version, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    // The callback URL carries the code: never leak it onward in a Referer.
    res.set("Referrer-Policy", "no-referrer");
    res.set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    if (!r.location.empty()) res.set(http::field::location, r.location);
    for (auto& c : r.cookies) res.insert(http::field::set_cookie, c);
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    return res;
}

asio::awaitable<void> async_connection(site app, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        stream.expires_after(std::chrono::seconds(30));
        http::request_parser<http::string_body> parser;
        parser.header_limit(16 * 1024);
        parser.body_limit(4 * 1024);  // no route takes a body
        auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        (void)rn;
        if (rec) break;  // closed, timed out, or malformed
        auto req = parser.release();
        std::string cookies(req[http::field::cookie]);
        stream.expires_never();  // a callback waits for the IdP: the http client bounds it
        auto r = co_await route(app, req.method(), std::string(req.target()), std::move(cookies));
        std::fprintf(stderr, "web_login: %s %s -> %u\n", std::string(req.method_string()).c_str(),
                     escape_untrusted(req.target().substr(0, req.target().find('?')), 120).c_str(),
                     r.status);
        auto res = to_beast(std::move(r), req.version(), req.keep_alive());
        stream.expires_after(std::chrono::seconds(30));
        auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
        (void)wn;
        if (wec || !res.keep_alive()) break;
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

struct settings {
    std::string issuer, client_id, secret_file, scope, host = "127.0.0.1";
    unsigned short port = 0;
    std::size_t max_pending = 4096;
};

struct server {
    server(asio::io_context& io, transport::web_login_options opts)
        : io(io), acceptor(io), http(io.get_executor()), clock(io.get_executor()),
          login(http, clock, std::move(opts)), sessions(clock) {}
    asio::io_context& io;
    tcp::acceptor acceptor;
    transport::http_client http;
    transport::real_clock clock;
    transport::web_login login;
    transport::web_sessions sessions;
};

asio::awaitable<void> async_serve(server* s, std::string base_url) {
    diagnostics diag;
    if (auto ec = co_await s->login.async_discover(diag)) {
        std::fprintf(stderr, "web_login: %s\n", diag.to_string().c_str());
        s->io.stop();
        co_return;
    }
    std::printf("listening on %s\n", base_url.c_str());
    std::fflush(stdout);
    for (;;) {
        auto [ec, socket] = co_await s->acceptor.async_accept(use_nothrow);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) continue;
        asio::co_spawn(s->io, async_connection(site{s->login, s->sessions}, std::move(socket)),
                       asio::detached);
    }
}

std::optional<std::string> read_secret(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.empty()) return std::nullopt;
    return s;
}

bool parse_args(int argc, char** argv, settings& s) {
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i], v = argv[i + 1];
        if (a == "--issuer") s.issuer = v;
        else if (a == "--client-id") s.client_id = v;
        else if (a == "--client-secret-file") s.secret_file = v;
        else if (a == "--max-pending") s.max_pending = std::stoul(v);
        else if (a == "--scope") s.scope = v;
        else if (a == "--listen" && v.rfind(':') != std::string::npos) {
            s.host = v.substr(0, v.rfind(':'));
            s.port = static_cast<unsigned short>(std::stoul(v.substr(v.rfind(':') + 1)));
        } else return false;
    }
    return argc % 2 == 1 && !s.issuer.empty() && !s.client_id.empty();
}

}  // namespace

int main(int argc, char** argv) {
    settings cfg;
    bool ok = false;
    try { ok = parse_args(argc, argv, cfg); } catch (const std::exception&) { ok = false; }
    if (!ok) {
        std::fprintf(stderr, "usage: web_login --issuer URL --client-id ID [--client-secret-file F] "
                             "[--listen 127.0.0.1:0] [--scope S] [--max-pending N]\n");
        return 2;
    }
    transport::web_login_options opts;
    opts.issuer = cfg.issuer;
    opts.client_id = cfg.client_id;
    opts.max_pending = cfg.max_pending;
    if (!cfg.scope.empty()) opts.scope = cfg.scope;
    if (!cfg.secret_file.empty()) {
        auto secret = read_secret(cfg.secret_file);
        if (!secret) {
            std::fprintf(stderr, "web_login: cannot read a client secret from %s\n", cfg.secret_file.c_str());
            return 1;
        }
        opts.auth.how = flows::client_auth::method::secret_basic;
        opts.auth.client_secret = latchkey::secret{*secret};
    }

    asio::io_context io(1);
    error_code ec;
    tcp::acceptor probe(io);
    auto addr = asio::ip::make_address(cfg.host, ec);
    tcp::endpoint ep(addr, cfg.port);
    if (!ec) probe.open(ep.protocol(), ec);
    if (!ec) probe.bind(ep, ec);
    if (!ec) probe.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::fprintf(stderr, "web_login: cannot listen on %s:%u: %s\n", cfg.host.c_str(), cfg.port,
                     ec.message().c_str());
        return 1;
    }
    const std::string base = "http://" + cfg.host + ":" + std::to_string(probe.local_endpoint().port());
    opts.redirect_uri = base + "/callback";
    server s(io, std::move(opts));
    s.acceptor = std::move(probe);

    asio::signal_set signals(io, SIGINT, SIGTERM);
    auto on_signal = [&s](const error_code& e, int) {
        if (e) return;
        error_code ignored;
        s.acceptor.close(ignored);
        s.io.stop();
    };
    signals.async_wait(on_signal);
    asio::co_spawn(io, async_serve(&s, base), asio::detached);
    io.run();
    return 0;
}

#include "login_support.hpp"

#include "listener_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

namespace login_test {

namespace {
const char* device_body =
    R"({"device_code":"dev-code-1","user_code":"BCDF-GHJK",)"
    R"("verification_uri":"https://idp.example/device","expires_in":900,"interval":5})";

std::string discovery_body() {
    return R"({"issuer":"https://idp.example",)"
           R"("authorization_endpoint":"https://idp.example/auth",)"
           R"("token_endpoint":"https://idp.example/token",)"
           R"("device_authorization_endpoint":"https://idp.example/device/auth",)"
           R"("jwks_uri":"https://idp.example/jwks",)"
           R"("userinfo_endpoint":"https://idp.example/me"})";
}

bool has(const http_request& r, std::string_view s) { return r.body.find(s) != std::string::npos; }
}  // namespace

asio::awaitable<std::string> fake_lines::async_read_line(error_code& ec) {
    ec = {};
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (lines.empty()) {
        ec = asio::error::eof;
        co_return std::string();
    }
    auto l = std::move(lines.front());
    lines.pop_front();
    co_return l;
}

rig::rig() : clock(io.get_executor(), std::chrono::time_point_cast<time_point::duration>(sys_clock::now())) {
    cfg.issuer = issuer;
    cfg.client_id = "latch-cli";
    cfg.scopes = default_scopes();
    poll = [this] { return test::json_reply(200, token_body()); };
    http.fallback = [this](const http_request& r) { return route(r); };
}

std::string rig::id_token(const std::string& nonce) const {
    auto c = jose_test::good_claims();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
    c["iat"] = now;
    c["exp"] = now + 600;
    if (nonce.empty()) c.erase("nonce");
    else c["nonce"] = nonce;
    return jose_test::sign(key, "k1", c);
}

std::string rig::token_body(const std::string& nonce) const {
    return R"({"access_token":"access-1","refresh_token":"refresh-1","token_type":"Bearer",)"
           R"("expires_in":3600,"id_token":")" + id_token(nonce) + "\"}";
}

test::scripted_reply rig::route(const http_request& r) {
    if (r.url == discovery_url(issuer)) return test::json_reply(200, discovery_body());
    if (r.url == issuer + "/jwks") return test::json_reply(200, jose_test::jwks_text({{key, "k1"}}));
    if (r.url == issuer + "/me" && on_userinfo) on_userinfo();
    if (r.url == issuer + "/me") return test::json_reply(200, R"({"sub":"alice","email":"alice@example.com","name":"Alice"})");
    if (r.url == issuer + "/device/auth") return test::json_reply(200, device_body);
    if (r.url == issuer + "/token" && has(r, "device_code")) return poll();
    if (r.url == issuer + "/token" && has(r, "authorization_code")) {
        if (code_exchange) return code_exchange(r);
        return test::json_reply(200, token_body(nonce_seen));
    }
    if (r.url == issuer + "/token") return test::json_reply(200, R"({"access_token":"svc-1","token_type":"Bearer","expires_in":300})");
    return test::transport_error(client_errc::connection_failed);
}

result<transport::login_result> rig::login(transport::login_options o, transport::login_ports p,
                                           diagnostics& diag) {
    return test::run_to_end(io, transport::async_login(client, cfg, std::move(o), p, diag));
}

std::size_t rig::count(const std::string& url) const {
    std::size_t n = 0;
    for (const auto& r : http.requests) n += r.url == url;
    return n;
}

std::string query_param(const std::string& url, const std::string& name) {
    auto u = boost::urls::parse_uri(url);
    if (!u) return {};
    for (auto p : u->params())
        if (p.key == name) return std::string(p.value);
    return {};
}

namespace {
asio::awaitable<void> async_get(unsigned short port, std::string target) {
    co_await test::async_raw_exchange(port, test::get_request(target));
}
}  // namespace

void deliver_callback(asio::io_context& io, unsigned short port, std::string target) {
    asio::co_spawn(io, async_get(port, std::move(target)), asio::detached);
}

}  // namespace login_test

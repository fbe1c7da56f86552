#include "support/lifecycle_fakes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <stdlib.h>

namespace latchkey::test {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {
http_response json_reply(int status, const json::value& v) {
    http_response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = json::serialize(v);
    return r;
}
}  // namespace

std::string form_field(const http_request& req, const std::string& name) {
    std::string_view body = req.body;
    const std::string key = name + "=";
    std::size_t pos = 0;
    while (pos <= body.size()) {
        auto amp = body.find('&', pos);
        auto part = body.substr(pos, amp == std::string_view::npos ? body.npos : amp - pos);
        if (part.substr(0, key.size()) == key) return std::string(part.substr(key.size()));
        if (amp == std::string_view::npos) break;
        pos = amp + 1;
    }
    return {};
}

fake_idp::fake_idp(asio::any_io_executor ex, std::string iss)
    : issuer(std::move(iss)), ex_(std::move(ex)) {}

asio::awaitable<http_response> fake_idp::async_send(http_request req, error_code& ec,
                                                    diagnostics& diag) {
    requests.push_back(req);
    if (latency.count() > 0) {
        asio::steady_timer t(ex_, latency);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    } else {
        co_await asio::post(ex_, asio::use_awaitable);
    }
    auto resp = answer(req, ec);
    if (ec) diag.client_message = "connection to " + req.url + " failed: " + ec.message();
    co_return resp;
}

// The reply for an injected failure; nullopt for failure::none.
std::optional<http_response> fake_idp::answer_failure(failure f, error_code& ec) const {
    switch (f) {
    case failure::network_error:
        ec = make_error_code(client_errc::connection_failed);
        return http_response{};
    case failure::html_500: {
        http_response r;
        r.status = 500;
        r.content_type = "text/html";
        r.body = "<html><body>oops</body></html>";
        return r;
    }
    case failure::empty_400: {  // some IdPs refuse a dead refresh token like this
        http_response r;
        r.status = 400;
        return r;
    }
    case failure::invalid_client:
        return json_reply(401, json::object{{"error", "invalid_client"},
                                            {"error_description", "client authentication failed"}});
    case failure::invalid_grant:
        return json_reply(400, json::object{{"error", "invalid_grant"},
                                            {"error_description", "grant request is invalid"}});
    case failure::none:
        break;
    }
    return std::nullopt;
}

http_response fake_idp::answer(const http_request& req, error_code& ec) {
    if (req.url == issuer + "/.well-known/openid-configuration") {
        ++discovery_requests;
        return json_reply(200, json::object{{"issuer", issuer},
                                            {"token_endpoint", issuer + "/token"},
                                            {"revocation_endpoint", issuer + "/revoke"}});
    }
    if (req.url == issuer + "/revoke") {
        ++revoke_requests;
        return json_reply(200, json::object{});
    }
    const std::string grant = form_field(req, "grant_type");
    if (req.url == issuer + "/token" && grant == "client_credentials") {
        ++grant_requests;
        if (auto failed = answer_failure(fail_grant, ec)) return *failed;
        ++generation;
        return json_reply(200, json::object{{"access_token", "cc-" + std::to_string(generation)},
                                            {"token_type", "Bearer"},
                                            {"expires_in", expires_in}});
    }
    if (req.url != issuer + "/token" || grant != "refresh_token")
        return json_reply(404, json::object{{"error", "invalid_request"}});
    ++refresh_requests;
    if (auto failed = answer_failure(fail_refresh, ec)) return *failed;
    if (form_field(req, "refresh_token") != current_refresh) {
        // oidc-provider: a replayed (rotated) refresh token revokes the grant.
        current_refresh = "revoked";
        return json_reply(400, json::object{{"error", "invalid_grant"},
                                            {"error_description", "grant request is invalid"}});
    }
    ++generation;
    json::object o{{"access_token", "at-" + std::to_string(generation)},
                   {"token_type", "Bearer"},
                   {"expires_in", expires_in}};
    if (rotate) {
        current_refresh = "rt-" + std::to_string(generation);
        o["refresh_token"] = current_refresh;
    }
    return json_reply(200, o);
}

asio::awaitable<error_code> counting_clock::async_wait_until(time_point deadline) {
    ++waits;
    co_return co_await real_.async_wait_until(deadline);
}

temp_store::temp_store()
    : root([] {
          char tmpl[] = "/tmp/latch-lifecycle-XXXXXX";
          return std::filesystem::path(::mkdtemp(tmpl));
      }()),
      store(root / "home") {}

temp_store::~temp_store() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
}

void temp_store::save(const std::string& access, const std::string& refresh,
                      std::chrono::seconds lifetime, const std::string& issuer) {
    stored_credentials c;
    c.issuer = issuer;
    c.client_id = "latch-cli";
    c.method = latchkey::login_method::device;
    c.obtained_at = std::chrono::time_point_cast<seconds>(sys_clock::now());
    c.who.subject = "alice";
    c.tokens.access_token = secret{access};
    if (!refresh.empty()) c.tokens.refresh_token = secret{refresh};
    c.tokens.scope = "openid offline_access";
    c.tokens.expires_at = std::chrono::time_point_cast<seconds>(sys_clock::now()) + lifetime;
    diagnostics d;
    REQUIRE_FALSE(store.save(c, d));
}

stored_credentials temp_store::load() const {
    diagnostics d;
    auto c = store.load("default", d);
    REQUIRE(c.has_value());
    REQUIRE(c->has_value());
    return **c;
}

std::string temp_store::bytes() const {
    std::ifstream f(store.credentials_path("default"), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace latchkey::test

// A fake IdP for the login use case's component tests (login_*_test.cpp): discovery,
// device authorization, token, JWKS and userinfo answered by fake_http; virtual time;
// recording user, browser and pasted-line ports.
#pragma once

#include "support/fakes.hpp"
#include "support/lifecycle_run.hpp"
#include "unit/jose_test_support.hpp"

#include <latchkey/transport/browser.hpp>
#include <latchkey/transport/client_services.hpp>
#include <latchkey/transport/line_reader.hpp>
#include <latchkey/transport/login.hpp>

#include <boost/asio/io_context.hpp>

#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace login_test {

using namespace latchkey;
namespace asio = boost::asio;

inline const std::string issuer = "https://idp.example";

// A user port that records, and tells the test when something is shown or warned.
class fake_login_user final : public transport::login_user_port {
public:
    void show(const flows::show_user& what) override {
        shown.push_back(what);
        if (on_show) on_show(what);
    }
    void warn(const std::string& m) override {
        warnings.push_back(m);
        if (on_warn) on_warn(m);
    }
    std::vector<flows::show_user> shown;
    std::vector<std::string> warnings;
    std::function<void(const flows::show_user&)> on_show;
    std::function<void(const std::string&)> on_warn;
};

// A browser that "opens" by recording the URL and calling `on_open` (which may deliver
// the callback to the loopback listener).
class fake_browser final : public transport::browser_port {
public:
    transport::browser_decision decide() const override {
        transport::browser_decision d;
        d.launch = launch;
        d.reason = "test";
        return d;
    }
    asio::awaitable<error_code> async_open(std::string url, diagnostics&) override {
        opened.push_back(url);
        if (on_open) on_open(url);
        co_return error_code{};
    }
    bool launch = true;
    std::vector<std::string> opened;
    std::function<void(const std::string&)> on_open;
};

// Pasted lines from a script; at its end, EOF.
class fake_lines final : public transport::line_source {
public:
    asio::awaitable<std::string> async_read_line(error_code& ec) override;
    std::deque<std::string> lines;
    std::function<void()> on_empty;  // called instead of EOF when set: the test appends
    asio::any_io_executor ex;
    bool waiting = false;
};

struct rig {
    asio::io_context io;
    test::fake_http http{io.get_executor()};
    test::fake_clock clock;
    transport::client_services client{http, clock};
    fake_login_user user;
    fake_browser browser;
    client_config cfg;
    EVP_PKEY* key = jose_test::shared_key(key_type::ec_p256);
    std::string nonce_seen;  // the nonce of the last authorization request the browser opened

    // device: how polls are answered (default: tokens at once).
    std::function<test::scripted_reply()> poll;
    std::function<test::scripted_reply(const http_request&)> code_exchange;
    std::function<void()> on_userinfo;

    rig();
    std::string id_token(const std::string& nonce = {}) const;
    std::string token_body(const std::string& nonce = {}) const;
    test::scripted_reply route(const http_request& r);
    result<transport::login_result> login(transport::login_options o, transport::login_ports p,
                                          diagnostics& diag);
    std::size_t count(const std::string& url) const;
};

// The query parameter `name` of `url` (decoded), empty when absent.
std::string query_param(const std::string& url, const std::string& name);

// GETs `target` from the loopback listener on `port` (a browser coming back).
void deliver_callback(asio::io_context& io, unsigned short port, std::string target);

}  // namespace login_test

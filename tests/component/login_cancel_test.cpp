// Ctrl-C semantics of the login use case: total cancellation (a first Ctrl-C) stops the
// flows, but a login that already holds tokens finishes (verification, identity, save);
// terminal cancellation (a second Ctrl-C) stops it at once.
#include "login_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <optional>

using namespace login_test;
using transport::login_way;

namespace {

// Runs a device login and emits `type` when `when` says so (checked at every request).
std::optional<result<transport::login_result>> run(rig& r, asio::cancellation_type_t type,
                                                   std::function<bool(const http_request&)> when,
                                                   diagnostics& diag) {
    asio::cancellation_signal sig;
    bool sent = false;
    r.http.on_request = [&](const http_request& q) {
        if (sent || !when(q)) return;
        sent = true;
        asio::post(r.io, [&sig, type] { sig.emit(type); });
    };
    transport::login_options o;
    o.way = login_way::device;
    std::optional<result<transport::login_result>> out;
    auto done = [&out](std::exception_ptr e, result<transport::login_result> v) {
        if (!e) out = std::move(v);
    };
    asio::co_spawn(r.io, transport::async_login(r.client, r.cfg, o, {r.user}, diag),
                   asio::bind_cancellation_slot(sig.slot(), done));
    r.io.run();
    REQUIRE(sent);
    return out;
}

bool is_poll(const http_request& q) { return q.body.find("device_code") != std::string::npos; }
bool is_jwks(const http_request& q) { return q.url == issuer + "/jwks"; }

}  // namespace

TEST_CASE("login: total cancellation stops the device flow; nothing obtained", "[component][login][cancel]") {
    rig r;
    r.poll = [] { return test::json_reply(400, R"({"error":"authorization_pending"})"); };
    diagnostics diag;
    auto got = run(r, asio::cancellation_type::total, is_poll, diag);
    REQUIRE(got);
    REQUIRE_FALSE(*got);
    CHECK(got->error() == client_errc::cancelled);
    CHECK(r.count(issuer + "/jwks") == 0);
}

TEST_CASE("login: total cancellation once tokens are held lets the login finish", "[component][login][cancel]") {
    rig r;
    diagnostics diag;
    auto got = run(r, asio::cancellation_type::total, is_jwks, diag);
    REQUIRE(got);
    REQUIRE(*got);
    CHECK((*got)->who.subject == "alice");
    CHECK(r.count(issuer + "/me") == 1);  // identity resolved after the cancellation
}

TEST_CASE("login: terminal cancellation stops even a login that holds tokens", "[component][login][cancel]") {
    rig r;
    diagnostics diag;
    auto got = run(r, asio::cancellation_type::terminal, is_jwks, diag);
    REQUIRE(got);
    CHECK_FALSE(*got);
}

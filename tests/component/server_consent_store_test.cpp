// latch-idp's consent records and client settings on SQLite: stored per user and client,
// replaced on a new grant, gone with the user or the client.
#include "support/lifecycle_run.hpp"
#include "support/store_backends.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/transport/server/sqlite_store.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <map>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::server_errc;
namespace records = latchkey::flows::server;

TEST_CASE("store: consent is kept per user and client, replaced, removed with the user",
          "[component][server][store][consent]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto opened = db.open();
    auto& st = *opened;
    // Named values only around co_await (GCC 12 destroys some co_await temporaries twice).
    const std::string u1 = "u1", web_id = "web", other_id = "other", alice_name = "alice";
    const std::string s1 = "openid", s2 = "openid email";
    auto r = test::run_to_end(io, [&]() -> asio::awaitable<std::map<std::string, std::string>> {
        std::map<std::string, std::string> out;
        records::user_record alice{"u1", "alice", "h", 1, "Alice"};
        auto e1 = co_await st.put_user(alice);
        REQUIRE_FALSE(e1);
        records::client_record web;
        web.client_id = "web";
        web.name = "Web";
        web.skip_consent = true;
        web.post_logout_redirect_uris = {"https://app.example/bye", "http://127.0.0.1:9/bye"};
        auto e2 = co_await st.put_client(web);
        REQUIRE_FALSE(e2);
        auto found = co_await st.find_client(web_id);
        REQUIRE(found.has_value());
        out["skip"] = found->skip_consent ? "yes" : "no";
        out["uris"] = found->post_logout_redirect_uris.at(0) + " " + found->post_logout_redirect_uris.at(1);
        auto none = co_await st.find_consent(u1, web_id);
        out["before"] = none ? *none : none.error() == server_errc::not_found ? "not_found" : "error";
        auto e3 = co_await st.put_consent(u1, web_id, s1, 10);
        auto e4 = co_await st.put_consent(u1, web_id, s2, 20);
        REQUIRE_FALSE(e3);
        REQUIRE_FALSE(e4);
        auto now = co_await st.find_consent(u1, web_id);
        out["after"] = now ? *now : "error";
        auto other = co_await st.find_consent(u1, other_id);
        out["other"] = other ? *other : "none";
        auto e5 = co_await st.delete_user(alice_name);
        REQUIRE_FALSE(e5);
        auto gone = co_await st.find_consent(u1, web_id);
        out["gone"] = gone ? *gone : "none";
        co_return out;
    }());
    CHECK(r["skip"] == "yes");
    CHECK(r["uris"] == "https://app.example/bye http://127.0.0.1:9/bye");
    CHECK(r["before"] == "not_found");
    CHECK(r["after"] == "openid email");
    CHECK(r["other"] == "none");
    CHECK(r["gone"] == "none");
}

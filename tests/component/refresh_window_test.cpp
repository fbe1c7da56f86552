// Issue 17 #6: with access tokens shorter than the CLI's 5-minute refresh window (240 s
// here, Keycloak's default 300 s), every `latch token` refreshed. The window is now at most
// half the token's lifetime: counted in refresh requests at an in-memory IdP.
#include "support/lifecycle_fakes.hpp"
#include "support/lifecycle_run.hpp"

#include <latchkey/transport/token_source.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::transport;
namespace asio = boost::asio;

namespace {

const std::string issuer = "http://127.0.0.1:1";

asio::awaitable<result<secret>> async_token(token_source* src) {
    diagnostics diag;
    co_return co_await src->token(diag);
}

}  // namespace

TEST_CASE("a 240 s token under the CLI's 300 s window is refreshed once, not at every use",
          "[component][lifecycle]") {
    asio::io_context io;
    test::fake_idp idp{io.get_executor(), issuer};
    idp.expires_in = 240;
    test::counting_clock clock{io.get_executor()};
    test::temp_store home;
    home.save("at-0", "rt-0", seconds{-10}, issuer);  // expired: the first use refreshes
    token_source_options o;
    o.token_endpoint = idp.token_endpoint();
    o.refresh_window = seconds{300};  // as `latch` sets it
    for (int process = 0; process < 3; ++process) {  // each `latch token` is a new process
        token_source src(io.get_executor(), idp, clock, home.store, "default", o);
        for (int call = 0; call < 3; ++call) REQUIRE(test::run_to_end(io, async_token(&src)));
    }
    CHECK(idp.refresh_requests == 1);
    const auto stored = home.load().tokens;
    REQUIRE(stored.issued_at);
    REQUIRE(stored.expires_at);
    CHECK(*stored.expires_at - *stored.issued_at == seconds{240});
}

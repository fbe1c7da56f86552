// Consumer of the installed SDK: asks the token_source for a token of the current context.
// Prints the redacted token and exits 0, or prints why not and exits 77 when a login is
// needed (as `latch token` does), 1 on other errors.
#include <latchkey/core/store.hpp>
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>

namespace asio = boost::asio;
using namespace latchkey;

namespace {

asio::awaitable<void> async_main(transport::token_source* source, int* exit_code) {
    diagnostics diag;
    auto token = co_await source->token(diag);
    if (token) {
        std::printf("token %s\n", token->redacted().c_str());
        *exit_code = 0;
    } else {
        std::printf("%s\n", diag.to_string().c_str());
        *exit_code = needs_login(token.error()) ? 77 : 1;
    }
}

}  // namespace

int main() {
    diagnostics diag;
    auto home = credential_store::default_home(diag);
    if (!home) {
        std::printf("%s\n", diag.to_string().c_str());
        return 1;
    }
    asio::io_context io;
    transport::http_client http(io.get_executor());
    transport::real_clock clock(io.get_executor());
    transport::token_source source(io.get_executor(), http, clock, credential_store(*home),
                                   "default");
    int exit_code = 1;
    asio::co_spawn(io, async_main(&source, &exit_code), asio::detached);
    io.run();
    return exit_code;
}

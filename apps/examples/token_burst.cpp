// token_burst: N coroutines on one io_context ask one token_source for a token at the same
// moment. Prints how many distinct tokens they got and how many refreshes were sent, so a
// test can check single-flight against a real IdP.
//
// usage: token_burst N      (LATCH_HOME and LATCH_CONTEXT as for the CLI; context "default")
// output: {"calls":N,"ok":N,"distinct_tokens":1,"refreshes":1}
#include <latchkey/core/store.hpp>
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

namespace asio = boost::asio;
using namespace latchkey;

namespace {
struct tally {
    int ok = 0;
    std::set<std::string> tokens;
    std::string last_error;
};

asio::awaitable<void> one_call(transport::token_source& source, tally& t) {
    diagnostics diag;
    auto tok = co_await source.token(diag);
    if (tok) {
        ++t.ok;
        t.tokens.insert(tok->reveal());
    } else {
        t.last_error = diag.to_string();
    }
}
}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
    diagnostics diag;
    auto home = credential_store::default_home(diag);
    if (!home) { std::fprintf(stderr, "token_burst: %s\n", diag.to_string().c_str()); return 1; }
    const char* ctx = std::getenv("LATCH_CONTEXT");
    asio::io_context io{1};
    transport::http_client http(io.get_executor());
    transport::real_clock clock(io.get_executor());
    transport::token_source source(io.get_executor(), http, clock, credential_store{*home},
                                   ctx && *ctx ? ctx : "default");
    tally t;
    for (int i = 0; i < n; ++i) asio::co_spawn(io, one_call(source, t), asio::detached);
    io.run();
    std::printf("{\"calls\":%d,\"ok\":%d,\"distinct_tokens\":%zu,\"refreshes\":%zu}\n", n, t.ok,
                t.tokens.size(), source.refresh_count());
    if (!t.last_error.empty()) std::fprintf(stderr, "token_burst: %s\n", t.last_error.c_str());
    return t.ok == n ? 0 : 1;
}

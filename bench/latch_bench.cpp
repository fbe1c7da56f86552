// latch-bench: the benchmark harness's client (issue 9). bench/run.sh starts the canned
// server and the side-by-side clients; this binary is latchkey's side.
//
//   latch-bench refresh --url URL [--requests R] [--connections C] [--duration-max S]
//   latch-bench poll --base URL [--flows F] [--seconds S] [--spread S] [--max-connections N]
//                    [--pending-polls K] [--driver multi|coro] [--device-path P] [--token-path P]
//                    [--timer-slack-us N]
//   latch-bench embed --home DIR [--token] [--seconds S]   (a server for wrk; see embed_scenario.cpp)
//   latch-bench write-creds --home DIR --issuer URL   (a valid cached token for `latch token`)
//
// Each scenario prints one JSON line on stdout.
#include "bench.hpp"

#include <latchkey/core/store.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using namespace latchkey;

void usage(std::FILE* to = stderr) {
    std::fputs("usage: latch-bench refresh --url URL [--requests R] [--connections C] "
               "[--duration-max S]\n"
               "       latch-bench poll --base URL [--flows F] [--seconds S] [--spread S]\n"
               "                        [--max-connections N] [--pending-polls K]\n"
               "                        [--driver multi|coro] [--device-path P] [--token-path P]\n"
               "                        [--timer-slack-us N]\n"
               "       latch-bench embed --home DIR [--token] [--seconds S]\n"
               "       latch-bench write-creds --home DIR --issuer URL\n",
               to);
}

// Returns the value after `--name`, or nullptr.
const char* arg(int argc, char** argv, const char* name) {
    for (int i = 2; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
    return nullptr;
}

bool flag(int argc, char** argv, const char* name) {
    for (int i = 2; i < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return true;
    return false;
}

int write_creds(const char* home, const char* issuer) {
    stored_credentials c;
    c.issuer = issuer;
    c.client_id = "latch-bench";
    c.method = latchkey::login_method::device;
    c.obtained_at = sys_clock::now();
    c.who.subject = "bench-user";
    c.tokens.access_token = secret(std::string(900, 'a'));
    c.tokens.refresh_token = secret("bench-refresh-token-0123456789abcdef");
    c.tokens.scope = "openid offline_access";
    c.tokens.expires_at = sys_clock::now() + std::chrono::hours(24);
    credential_store store{std::filesystem::path(home)};
    diagnostics diag;
    if (auto ec = store.save(c, diag)) {
        std::fprintf(stderr, "latch-bench: %s: %s\n", ec.message().c_str(), diag.to_string().c_str());
        return 1;
    }
    std::printf("%s\n", store.credentials_path("default").c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) { usage(); return 2; }
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h") { usage(stdout); return 0; }
    if (cmd == "refresh") {
        bench::refresh_options o;
        const char* url = arg(argc, argv, "--url");
        if (!url) { usage(); return 2; }
        o.url = url;
        if (auto* v = arg(argc, argv, "--requests")) o.requests = std::strtoull(v, nullptr, 10);
        if (auto* v = arg(argc, argv, "--connections")) o.connections = std::atoi(v);
        if (auto* v = arg(argc, argv, "--duration-max")) o.duration_max = std::atof(v);
        if (o.connections < 1 || o.requests < 1) { usage(); return 2; }
        return bench::run_refresh(o);
    }
    if (cmd == "poll") {
        bench::poll_options o;
        const char* base = arg(argc, argv, "--base");
        if (!base) { usage(); return 2; }
        o.base = base;
        if (auto* v = arg(argc, argv, "--flows")) o.flows = std::atoi(v);
        if (auto* v = arg(argc, argv, "--seconds")) o.seconds = std::atof(v);
        if (auto* v = arg(argc, argv, "--max-connections")) o.max_connections = std::atoi(v);
        if (auto* v = arg(argc, argv, "--spread")) o.spread = std::atof(v);
        if (auto* v = arg(argc, argv, "--pending-polls")) o.pending_polls = std::atoi(v);
        if (auto* v = arg(argc, argv, "--driver")) o.driver = v;
        if (auto* v = arg(argc, argv, "--device-path")) o.device_path = v;
        if (auto* v = arg(argc, argv, "--token-path")) o.token_path = v;
        if (auto* v = arg(argc, argv, "--timer-slack-us")) o.timer_slack_us = std::atol(v);
        if (o.driver != "multi" && o.driver != "coro") { usage(); return 2; }
        if (o.flows < 1 || o.seconds < 1 || o.max_connections < 1 || !(o.spread > 0)) {
            usage();
            return 2;
        }
        return bench::run_poll(o);
    }
    if (cmd == "embed") {
        bench::embed_options o;
        const char* home = arg(argc, argv, "--home");
        if (!home) { usage(); return 2; }
        o.home = home;
        o.with_token = flag(argc, argv, "--token");
        if (auto* v = arg(argc, argv, "--seconds")) o.seconds = std::atof(v);
        if (!(o.seconds > 0)) { usage(); return 2; }
        return bench::run_embed(o);
    }
    if (cmd == "write-creds") {
        const char* home = arg(argc, argv, "--home");
        const char* issuer = arg(argc, argv, "--issuer");
        if (!home || !issuer) { usage(); return 2; }
        return write_creds(home, issuer);
    }
    usage();
    return 2;
}

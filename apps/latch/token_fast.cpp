// The fast path of `latch token` (issue 16, P3). Scripts and credential helpers run
// `latch token` per request; with a valid cached token the command only reads two small
// files and prints. This does that before main() builds the CLI11 tree, the io_context,
// its signal handling and the HTTP client (bench/README.md: their syscalls and page faults
// were most of the start-up cost), reading the store through the same credential_store
// calls as the normal path (so the same directory checks and the same parsing). Anything
// it is not sure of (another argument, an error, an expired or soon-expiring token, a
// store marked expired) returns false without printing: the normal path then does it all
// again and says what it always said.
#include "token_fast.hpp"

#include <latchkey/core/store.hpp>
#include <latchkey/core/token_set.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey::cli {

namespace {

// commands.cpp make_source: the CLI refreshes when less than this (plus the skew) is left.
constexpr std::chrono::seconds cli_refresh_window{300};

struct plain_token_args {
    bool context_given = false;
    std::string_view context;
};

// `token`, `token --context NAME`, `token --context=NAME`, `--context NAME token`; nothing
// else (no flag, no other command, no empty or dash-led name).
std::optional<plain_token_args> parse_plain_token(int argc, char** argv) {
    plain_token_args p;
    bool command = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "token" && !command) {
            command = true;
        } else if (a == "--context" && !p.context_given && i + 1 < argc) {
            p.context_given = true;
            p.context = argv[++i];
        } else if (a.starts_with("--context=") && !p.context_given) {
            p.context_given = true;
            p.context = a.substr(10);
        } else {
            return std::nullopt;
        }
    }
    if (!command) return std::nullopt;
    if (p.context_given && (p.context.empty() || p.context.front() == '-')) return std::nullopt;
    return p;
}

// app::context_name: the flag, else LATCH_CONTEXT, else the current context, else "default".
std::string context_of(const plain_token_args& p, const config_file& cfg) {
    if (p.context_given) return std::string(p.context);
    if (const char* e = std::getenv("LATCH_CONTEXT"); e && *e) return e;
    if (!cfg.current_context.empty()) return cfg.current_context;
    return "default";
}

}  // namespace

bool print_cached_token(int argc, char** argv) {
    const auto args = parse_plain_token(argc, argv);
    if (!args) return false;
    diagnostics diag;
    auto home = credential_store::default_home(diag);
    if (!home) return false;
    const credential_store store{std::move(*home)};
    auto cfg = store.load_config(diag);  // loaded even with --context, as the normal path does
    if (!cfg) return false;
    const std::string context = context_of(*args, *cfg);
    if (!valid_context_name(context)) return false;
    auto creds = store.load(context, diag);
    if (!creds || !*creds || (*creds)->expired) return false;
    const token_set& t = (*creds)->tokens;
    // token_source_options' default skew, spelled in core: this file includes no Asio
    // header, so the fast path's code pulls neither Asio nor OpenSSL in (issue 16, P3).
    const auto margin = cli_refresh_window + default_clock_skew;
    if (!t.valid_at(sys_clock::now(), margin))
        return false;
    // As run_token prints it (commands.cpp): the one place a whole secret is printed.
    const auto& token = t.access_token.reveal();
    std::fwrite(token.data(), 1, token.size(), stdout);
    std::fputc('\n', stdout);
    return true;
}

}  // namespace latchkey::cli

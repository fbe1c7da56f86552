// `storage keyring` in the CLI: the --storage option of `latch context add`, and what a
// login says when the keyring did not take the refresh token (core/src/store_keyring.cpp
// then keeps it in the credentials file: never lost, and said so).
#include "app.hpp"
#include "cli_tools.hpp"

#include <latchkey/core/keyring.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace latchkey::cli {

namespace {

bool keyring_storage(const config_file& cfg, const std::string& ctx) {
    auto c = cfg.contexts.find(ctx);
    if (c == cfg.contexts.end()) return false;
    auto s = c->second.extra.find("storage");
    return s != c->second.extra.end() && s->second == "keyring";
}

}  // namespace

void add_storage_option(CLI::App& add, std::string& storage) {
    add.add_option("--storage", storage,
                   "file | keyring (where the refresh token is kept; keyring: the desktop's Secret "
                   "Service, with the file as fallback when none answers; default file)")
        ->check(CLI::IsMember({"file", "keyring"}))
        ->each([](const std::string& v) {
            diagnostics why;
            if (v == "keyring" && !keyring::available(why))
                std::fprintf(stderr, "latch: %s; refresh tokens stay in the credentials file until one answers\n",
                             why.client_message.c_str());
        });
}

void note_refresh_token_storage(app& a, const std::string& ctx, const stored_credentials& saved) {
    if (!saved.tokens.refresh_token) return;
    diagnostics diag;
    auto cfg = a.store.load_config(diag);
    if (!cfg || !keyring_storage(*cfg, ctx)) return;
    const auto path = a.store.credentials_path(ctx);
    std::ifstream in(path);
    const std::string record{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (record.find("\"refresh_token_in\":\"keyring\"") != std::string::npos) {
        std::fprintf(stderr, "The refresh token is in the Secret Service keyring.\n");
        return;
    }
    diagnostics why;
    keyring::available(why);
    std::fprintf(stderr, "latch: %s; the refresh token was stored in %s (mode 0600) instead\n",
                 why.client_message.empty() ? "the keyring did not take the refresh token"
                                            : why.client_message.c_str(),
                 path.c_str());
}

}  // namespace latchkey::cli

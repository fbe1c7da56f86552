#include "app.hpp"

#include <latchkey/core/untrusted.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {
bool debug_from_env() {
    const char* e = std::getenv("LATCH_DEBUG");
    return e && *e && std::string_view(e) != "0";
}
transport::http_options http_opts(const global_options& g) {
    transport::http_options o;
    o.ca_file = g.ca_file;
    if (g.debug || debug_from_env())
        o.trace = [](std::string_view line) { std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data()); };
    return o;
}
}  // namespace

app::app(asio::io_context& io_, global_options g, credential_store s)
    : io(io_), global(std::move(g)), store(std::move(s)),
      http(io_.get_executor(), http_opts(global)), clock(io_.get_executor()), client(http, clock) {}

transport::browser_launcher& app::browser() {
    if (!browser_) browser_.emplace(io.get_executor(), transport::browser_env::from_process(false));
    return *browser_;
}

std::string app::context_name(const config_file& cfg) const {
    if (!global.context.empty()) return global.context;
    if (const char* e = std::getenv("LATCH_CONTEXT"); e && *e) return e;
    if (!cfg.current_context.empty()) return cfg.current_context;
    return "default";
}

std::string mistyped_context_message(const app& a, const config_file& cfg, const std::string& name) {
    const char* env = std::getenv("LATCH_CONTEXT");
    const bool given = !a.global.context.empty() || (env && *env);
    if (!given || cfg.contexts.count(name) != 0) return {};
    std::error_code ec;
    if (std::filesystem::exists(a.store.credentials_path(name), ec)) return {};
    std::string known;
    for (const auto& [n, c] : cfg.contexts) known += (known.empty() ? "" : ", ") + n;
    return "no context named '" + escape_terminal(name) + "'" +
           (known.empty() ? " (there are none yet: `latch login` or `latch context add` makes one)"
                          : "; the contexts are: " + known + " (see `latch context list`)");
}

current_context load_current_context(app& a, diagnostics& diag, bool known_only) {
    current_context cur;
    auto cfg = a.store.load_config(diag);
    if (!cfg) {
        print_error(describe(cfg.error(), diag));
        cur.exit_code = 1;
        return cur;
    }
    cur.cfg = std::move(*cfg);
    cur.name = a.context_name(cur.cfg);
    if (!valid_context_name(cur.name)) {
        print_error(invalid_context_message(cur.name));
        cur.exit_code = 2;
    } else if (auto typo = known_only ? mistyped_context_message(a, cur.cfg, cur.name) : "";
               !typo.empty()) {
        print_error(typo);
        cur.exit_code = 2;
    }
    return cur;
}

asio::awaitable<result<provider_metadata>> app::async_discover(const client_config& c,
                                                               diagnostics& diag) {
    co_return co_await client.async_discover(c, diag);
}

}  // namespace latchkey::cli

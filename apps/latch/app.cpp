#include "app.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <cstdlib>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace json = boost::json;

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
std::string json_str(const json::object& o, std::string_view k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                    : std::string{};
}
void fill_identity(identity& who, const json::object& claims) {
    auto take = [&](std::string& field, std::string_view k) {
        if (field.empty()) field = json_str(claims, k);
    };
    take(who.subject, "sub");
    take(who.email, "email");
    take(who.name, "name");
    take(who.username, "preferred_username");
}
}  // namespace

app::app(asio::io_context& io_, global_options g, credential_store s)
    : io(io_), global(std::move(g)), store(std::move(s)),
      http(io_.get_executor(), http_opts(global)), clock(io_.get_executor()), client(http, clock) {}

std::string app::context_name(const config_file& cfg) const {
    if (!global.context.empty()) return global.context;
    if (const char* e = std::getenv("LATCH_CONTEXT"); e && *e) return e;
    if (!cfg.current_context.empty()) return cfg.current_context;
    return "default";
}

current_context load_current_context(app& a, diagnostics& diag) {
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
        print_error("invalid context name '" + cur.name + "'");
        cur.exit_code = 2;
    }
    return cur;
}

asio::awaitable<result<provider_metadata>> app::async_discover(const client_config& c,
                                                               diagnostics& diag) {
    co_return co_await client.async_discover(c, diag);
}

asio::awaitable<identity> app::async_identify(const provider_metadata& m, const token_set& t,
                                              const json::object* id_claims) {
    identity who;
    if (id_claims) fill_identity(who, *id_claims);  // verified by the caller
    // Userinfo only fills gaps, and only with a real access token: after an ID-token-only
    // login (--callback-url) the "access token" is the ID token itself.
    const bool real_access_token = !t.id_token || t.id_token->reveal() != t.access_token.reveal();
    if (!m.userinfo_endpoint.empty() && real_access_token &&
        (who.email.empty() || who.name.empty())) {
        auto req = make_get(m.userinfo_endpoint);
        req.headers.emplace_back("Authorization", "Bearer " + t.access_token.reveal());
        error_code ec;
        diagnostics diag;
        auto resp = co_await http.async_send(std::move(req), ec, diag);
        if (!ec && resp.status == 200) {
            json::value v = json::parse(resp.body, ec);
            if (!ec && v.is_object()) fill_identity(who, v.as_object());
        }
    }
    co_return who;
}

}  // namespace latchkey::cli

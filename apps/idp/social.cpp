// Social login: the upstream clients and starting a sign-in (social.hpp).
#include "social.hpp"

#include "authorize.hpp"
#include "better_auth.hpp"
#include "pages.hpp"

#include <latchkey/core/http.hpp>
#include <latchkey/flows/server/page_guard.hpp>
#include <latchkey/flows/server/sealed.hpp>
#include <latchkey/flows/server/session.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

transport::http_options upstream_http_options() {
    transport::http_options o;
    o.connect_timeout = std::chrono::milliseconds(5'000);
    o.request_timeout = std::chrono::milliseconds(10'000);
    o.user_agent = "latch-idp";
    return o;
}

std::string fingerprint(const fs::social_provider_record& p) {
    return p.issuer + "\n" + p.client_id + "\n" + p.sealed_secret + "\n" + p.scope;
}

// A new client for `p`; nullptr when its secret cannot be unsealed.
std::shared_ptr<transport::web_login> make_login(idp_state& st, const fs::social_provider_record& p) {
    transport::web_login_options o;
    o.issuer = p.issuer;
    o.client_id = p.client_id;
    o.auth.client_id = p.client_id;
    if (!p.sealed_secret.empty()) {
        auto secret_value = fs::unseal(st.sealing_key, p.sealed_secret, social_secret_context(p.name));
        if (!secret_value) return nullptr;
        o.auth.how = flows::client_auth::method::secret_basic;  // or _post, per discovery
        o.auth.client_secret = std::move(*secret_value);
    }
    o.redirect_uri = st.config.issuer + "/api/auth/callback/" + p.name;
    o.scope = p.scope;
    o.cookie_name = "latch_social";
    o.secure_cookies = st.https;
    return std::make_shared<transport::web_login>(st.social->http, st.social->clock, std::move(o));
}

// Starts a sign-in at `name`, continuing at `context` (absolute, checked) afterwards.
struct started {
    transport::web_login_start start;
    int status = 0;  // != 0: failed
    std::string message;
};

boost::asio::awaitable<started> start(idp_state& st, std::string name, std::string context) {
    auto r = co_await ready_social(st, std::move(name));
    if (!r.login) co_return started{{}, r.status, r.message};
    diagnostics diag;
    auto s = r.login->begin(diag, std::move(context));
    if (!s) co_return started{{}, transport::web_login_status(s.error()), diag.client_message};
    co_return started{std::move(*s), 0, {}};
}

// GET /api/auth/sign-in/social/NAME?return_to=...: a page's button.
boost::asio::awaitable<http_response> start_from_page(idp_state& st, const ts::server_request& req,
                                                      std::string name) {
    // Each start holds a pending sign-in in memory (bounded, oldest evicted): counted like
    // a sign-in attempt, so that one address cannot crowd out everyone's.
    if (!st.account_attempts.allow(req.peer_ip, unix_now()))
        co_return message_page(429, "Too many attempts", "Too many sign-in attempts. Wait a minute and try again.");
    auto q = fs::form::parse(req.query());
    auto context = safe_return_to(st, q ? q->value_or_empty("return_to") : std::string_view{});
    if (!context) co_return message_page(400, "Sign-in refused", "The page to return to is not on this site.");
    std::string provider = name;
    auto s = co_await start(st, std::move(provider), std::move(*context));
    if (s.status != 0) {
        note_event(st, &req, {.event = "social_sign_in", .ok = false, .reason = "provider_unavailable",
                              .method = "social:" + name});
        co_return message_page(s.status, "Sign-in with " + name + " is not available", s.message);
    }
    auto r = redirect_to(s.start.authorize_url);
    r.headers.emplace_back("Set-Cookie", std::move(s.start.set_cookie));
    co_return r;
}

// POST /api/auth/sign-in/social {provider, callbackURL}: Better Auth's shape.
boost::asio::awaitable<http_response> start_from_api(idp_state& st, const ts::server_request& req) {
    if (auto refused = refuse_post(st, req)) co_return std::move(*refused);
    auto body = json_body(req);
    if (!body) co_return api_error(400, "INVALID_JSON", "The body is not a JSON object");
    if (!st.account_attempts.allow(req.peer_ip, unix_now()))
        co_return api_error(429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later.");
    const auto provider = string_field(*body, "provider").value_or("");
    if (!valid_social_name(provider)) co_return api_error(404, "PROVIDER_NOT_FOUND", "Provider not found");
    auto context = safe_return_to(st, string_field(*body, "callbackURL").value_or(""));
    if (!context) co_return api_error(403, "INVALID_CALLBACKURL", "Invalid callbackURL");
    std::string name = provider;
    auto s = co_await start(st, std::move(name), std::move(*context));
    if (s.status == 404) co_return api_error(404, "PROVIDER_NOT_FOUND", "Provider not found");
    if (s.status != 0) co_return api_error(s.status, "PROVIDER_UNAVAILABLE", s.message);
    const bool redirect = !bool_field(*body, "disableRedirect", false);
    co_return with_cookie(api_json(200, json::object{{"url", s.start.authorize_url}, {"redirect", redirect}}),
                          std::move(s.start.set_cookie));
}

}  // namespace

social_hub::social_hub(boost::asio::any_io_executor ex) : http(ex, upstream_http_options()), clock(ex) {}

std::optional<std::string> safe_return_to(const idp_state& st, std::string_view raw) {
    if (raw.empty()) return std::string();
    for (unsigned char c : raw)
        if (c < 0x21 || c == 0x7f || c == '\\') return std::nullopt;
    // A path of ours; "//host" would be another origin.
    if (raw.front() == '/') {
        if (raw.size() > 1 && raw[1] == '/') return std::nullopt;
        return st.config.issuer + std::string(raw);
    }
    const auto origin = fs::url_origin(raw);
    if (origin.empty()) return std::nullopt;
    for (const auto& t : st.trusted_origins)
        if (t == origin) return std::string(raw);
    return std::nullopt;
}

boost::asio::awaitable<social_ready> ready_social(idp_state& st, std::string name) {
    if (!st.social || !valid_social_name(name)) co_return social_ready{nullptr, 404, "no such sign-in provider"};
    auto all = co_await st.store.list_social_providers();
    if (!all) co_return social_ready{nullptr, 503, "the server is busy; try again"};
    const fs::social_provider_record* p = nullptr;
    for (const auto& x : *all)
        if (x.name == name) p = &x;
    if (!p) co_return social_ready{nullptr, 404, "no such sign-in provider: " + name};
    auto& e = st.social->entries[name];
    if (e.fingerprint != fingerprint(*p) || !e.login) {
        e = social_hub::entry{fingerprint(*p), make_login(st, *p)};
        if (!e.login) {
            e.fingerprint.clear();
            co_return social_ready{nullptr, 500, "the client secret of " + name + " cannot be read (wrong secret.key?)"};
        }
    }
    auto login = e.login;  // kept alive across the awaits below, whatever happens to `e`
    if (e.discovered) co_return social_ready{login, 0, {}};
    const auto now = unix_now();
    if (now < e.failed_until) co_return social_ready{nullptr, 503, e.failure};
    diagnostics diag;
    auto ec = co_await login->async_discover(diag);
    auto& after = st.social->entries[name];  // the map may have changed meanwhile
    if (after.login != login) co_return social_ready{nullptr, 503, "the provider's configuration changed; try again"};
    if (ec) {
        after.failed_until = unix_now() + st.social->retry_after;
        after.failure = "cannot reach " + p->issuer + " (" +
                        (diag.client_message.empty() ? ec.message() : diag.client_message) + "); try again later";
        co_return social_ready{nullptr, 503, after.failure};
    }
    after.discovered = true;
    co_return social_ready{login, 0, {}};
}

boost::asio::awaitable<std::string> social_buttons(idp_state& st, std::string return_to) {
    if (!st.social) co_return std::string();
    auto all = co_await st.store.list_social_providers();
    if (!all || all->empty()) co_return std::string();
    // Links, not forms: a form's answer may only redirect where the page's CSP form-action
    // allows, and the upstream's origin is not known to the page.
    std::string html = "<p>Or:</p>";
    const std::string query = return_to.empty() ? std::string() : "?return_to=" + url_encode(return_to);
    for (const auto& p : *all)
        html += "<p><a class=\"social\" href=\"" + local_path(st, "/api/auth/sign-in/social/") + p.name + fs::html_escape(query) +
                "\">Sign in with " + fs::html_escape(p.name) + "</a></p>";
    co_return html;
}

bool is_social_path(std::string_view path) {
    return path.rfind("/sign-in/social", 0) == 0 || path.rfind("/callback/", 0) == 0 ||
           path == "/social/second-factor";
}

boost::asio::awaitable<http_response> social_api(idp_state& st, const ts::server_request& req, std::string_view path) {
    const bool get = req.method == http_method::get;
    if (path == "/sign-in/social") {
        if (req.method != http_method::post) co_return api_error(405, "METHOD_NOT_ALLOWED", "Use POST");
        co_return co_await start_from_api(st, req);
    }
    if (path == "/social/second-factor") co_return co_await social_second_factor(st, req);
    const bool button = path.rfind("/sign-in/social/", 0) == 0;
    std::string name(path.substr(button ? 16 : 10));
    if (!get) co_return message_page(405, "Method not allowed", "Use GET.");
    if (!valid_social_name(name)) co_return message_page(404, "Not found", "No such sign-in provider.");
    if (button) co_return co_await start_from_page(st, req, std::move(name));
    co_return co_await social_callback(st, req, name);
}

}  // namespace latchkey::idp

// Interactive logins: device flow, browser (authorization code + PKCE on a loopback
// listener), and the hybrid that runs both at once on the one io_context.
#include "app.hpp"
#include "login_paste.hpp"

#include <latchkey/flows/auth_code_flow.hpp>
#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/browser.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/loopback_listener.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>

namespace latchkey::cli {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// Prints what the browser side needs to say; the authorize URL itself was already printed
// with the pre-flight notice, so the flow's browser_url prompt is not repeated.
class browser_user final : public transport::user_port {
public:
    explicit browser_user(terminal_user& t) : t_(t) {}
    void show(const flows::show_user& what) override {
        if (what.what != flows::show_user::kind::browser_url) t_.show(what);
    }
private:
    terminal_user& t_;
};

bool wants_offline(const client_config& c) {
    return std::find(c.scopes.begin(), c.scopes.end(), "offline_access") != c.scopes.end();
}

// Ends a side: a failure that is not the user's decision (an expired device code, a
// browser that never came back) leaves the other side running; access_denied, a
// cancellation, or the second failure ends the login.
struct hybrid_state {
    int failures = 0;
    bool hybrid = false;
    login_method browser_method = login_method::browser;  // or browser_pasted, callback_url
    std::string browser_nonce;               // the nonce the browser side sent
};

bool ends_everything(const error_code& ec) {
    return ec == oauth_errc::access_denied || ec == client_errc::cancelled;
}

asio::awaitable<result<token_set>> settle(app& a, result<token_set> r, hybrid_state& st,
                                          const char* side, const diagnostics& diag) {
    if (r || !st.hybrid || ends_everything(r.error()) || ++st.failures == 2) co_return r;
    print_error(std::string(side) + " login ended (" + describe(r.error(), diag) +
                "); still waiting for the other one");
    // Wait until the other side finishes and cancels us.
    co_await a.clock.async_wait_until(a.clock.now() + std::chrono::hours{24 * 365});
    co_return client_errc::cancelled;
}

asio::awaitable<result<token_set>> device_side(app& a, const client_config& c,
                                               const provider_metadata& m, const login_options& o,
                                               terminal_user& user, hybrid_state& st,
                                               diagnostics& diag) {
    flows::device_params p;
    p.device_authorization_endpoint = m.device_authorization_endpoint;
    p.token_endpoint = m.token_endpoint;
    p.client_id = c.client_id;
    p.scope = c.scope_string();
    p.timeout = std::chrono::seconds{o.timeout_s};
    flows::device_flow flow{std::move(p)};
    transport::ports ports{a.http, a.clock, user};
    // The countdown only decorates the wait; it never ends on its own.
    auto r = co_await (transport::async_drive(flow, ports, diag) || user.async_countdown(a.clock));
    result<token_set> out = r.index() == 0 ? std::get<0>(std::move(r))
                                           : result<token_set>(client_errc::cancelled);
    co_return co_await settle(a, std::move(out), st, "device", diag);
}

asio::awaitable<result<token_set>> browser_side(app& a, const client_config& c,
                                                const provider_metadata& m,
                                                const login_options& o, terminal_user& user,
                                                hybrid_state& st, diagnostics& diag) {
    auto listener = transport::loopback_listener::open(a.io.get_executor(),
                                                       static_cast<std::uint16_t>(o.port),
                                                       "/callback", diag);
    if (!listener) co_return co_await settle(a, listener.error(), st, "browser", diag);

    flows::auth_code_params p;
    p.authorization_endpoint = m.authorization_endpoint;
    p.token_endpoint = m.token_endpoint;
    p.client_id = c.client_id;
    p.scope = c.scope_string();
    p.redirect_uri = listener->redirect_uri();
    p.issuer = m.issuer;
    p.iss_parameter_supported = m.authorization_response_iss_parameter_supported;
    p.timeout = std::chrono::seconds{o.timeout_s};
    // OIDC Core §11: offline_access is only granted with prompt=consent.
    if (wants_offline(c)) p.prompt = "consent";
    auto secrets = flows::make_auth_code_secrets();
    listener->set_expected_state(secrets.state);
    const auto url = flows::build_authorize_url(p, secrets);
    // The browser may run elsewhere (SSH, a container): a pasted URL races the listener.
    paste_or_listener port{a, *listener, transport::line_reader::open_stdin(a.io.get_executor()), m,
                           {c.client_id, secrets.state, secrets.nonce}};
    st.browser_nonce = secrets.nonce;

    // Pre-flight notice (seed 001): the exact redirect URI the IdP must allow-list.
    flows::show_user notice;
    notice.message = "Browser login: redirect URI " + p.redirect_uri + " (client " + c.client_id +
                     ") must be allowed at the identity provider.\n"
                     "Opening this URL in your browser (open it yourself if nothing happens):\n  " + url;
    if (port.reads_stdin())
        notice.message += "\nIf the browser runs on another machine, paste the URL it lands on here.";
    user.show(notice);
    if (!o.no_browser_open) {
        diagnostics bd;
        auto d = transport::decide_browser(transport::browser_env::from_process(false));
        if (!d.launch) user.show({.message = "Not opening a browser: " + d.reason});
        else if (auto ec = co_await transport::async_launch_browser(a.io.get_executor(), d, url, bd))
            user.show({.message = "Failed to open the browser (" + bd.to_string() + "); open the URL above yourself."});
    }

    flows::auth_code_flow flow{std::move(p), std::move(secrets)};
    browser_user bu{user};
    transport::ports ports{a.http, a.clock, bu, &port};
    auto r = co_await transport::async_drive(flow, ports, diag);
    listener->close();
    if (const auto& t = port.id_token_login()) {  // a verified pasted #id_token= won
        st.browser_method = login_method::callback_url;
        diag.clear();
        r = *t;
    } else if (port.pasted()) {
        st.browser_method = login_method::browser_pasted;
    }
    co_return co_await settle(a, std::move(r), st, "browser", diag);
}

}  // namespace

login_mode choose_login_mode(const login_options& o, const provider_metadata& m) {
    if (o.device) return login_mode::device;
    if (o.browser) return login_mode::browser;
    const bool has_device = !m.device_authorization_endpoint.empty();
    const bool has_code = !m.authorization_endpoint.empty();
    if (!has_code) return login_mode::device;
    if (!has_device) return login_mode::browser;
    // Both advertised: race them when a browser can be opened here; over SSH or without a
    // display, the device flow alone (the user finishes on another machine).
    if (o.no_browser_open) return login_mode::device;
    auto d = transport::decide_browser(transport::browser_env::from_process(false));
    return d.launch ? login_mode::hybrid : login_mode::device;
}

namespace {

asio::awaitable<result<login_outcome>> run_mode(app& a, const client_config& c,
                                                const provider_metadata& m,
                                                const login_options& o, login_mode mode,
                                                diagnostics& diag) {
    terminal_user user{detect_terminal(o.no_qr)};
    hybrid_state st;
    if (mode == login_mode::device) {
        auto r = co_await device_side(a, c, m, o, user, st, diag);
        if (!r) co_return r.error();
        co_return login_outcome{std::move(*r), login_method::device};
    }
    if (mode == login_mode::browser) {
        auto r = co_await browser_side(a, c, m, o, user, st, diag);
        if (!r) co_return r.error();
        co_return login_outcome{std::move(*r), st.browser_method, st.browser_nonce};
    }
    // Hybrid: whichever side succeeds first wins; the other is cancelled at once (device
    // polling stops, the listener closes).
    st.hybrid = true;
    diagnostics device_diag, browser_diag;
    auto r = co_await (device_side(a, c, m, o, user, st, device_diag) ||
                       browser_side(a, c, m, o, user, st, browser_diag));
    const bool device_won = r.index() == 0;
    auto tokens = device_won ? std::get<0>(std::move(r)) : std::get<1>(std::move(r));
    diag = device_won ? device_diag : browser_diag;
    if (!tokens) co_return tokens.error();
    if (device_won) co_return login_outcome{std::move(*tokens), login_method::device, std::nullopt};
    co_return login_outcome{std::move(*tokens), st.browser_method, st.browser_nonce};
}

}  // namespace

asio::awaitable<result<login_outcome>> async_interactive_login(
    app& a, const client_config& c, const provider_metadata& m, const login_options& o,
    login_mode mode, diagnostics& diag) {
    // A Ctrl-C reaches the coroutines below as terminal cancellation; Asio reports it by
    // throwing from the next co_await (from both sides of a race at once, as
    // multiple_exceptions). Turn that back into the cancelled error the CLI maps to 130.
    std::string failure;
    try {
        co_return co_await run_mode(a, c, m, o, mode, diag);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return client_errc::cancelled;
    diag.client_message = "login failed unexpectedly: " + failure;
    co_return client_errc::bad_input;
}

}  // namespace latchkey::cli

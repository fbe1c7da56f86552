// Interactive logins: device flow, browser (authorization code + PKCE on a loopback
// listener, pasted URLs raced with it), and the hybrid that runs both at once.
#include "login_internal.hpp"
#include "login_paste.hpp"

#include <latchkey/flows/auth_code_flow.hpp>
#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/browser.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/loopback_listener.hpp>
#include <latchkey/transport/race.hpp>

#include <boost/asio/this_coro.hpp>

#include <algorithm>

namespace latchkey::transport::detail {
namespace asio = boost::asio;

namespace {

enum class login_mode { device, browser, hybrid };

// Prints what the browser side needs to say; the authorize URL itself was already shown
// with the pre-flight notice, so the flow's browser_url prompt is not repeated.
class browser_user final : public user_port {
public:
    explicit browser_user(user_port& t) : t_(t) {}
    void show(const flows::show_user& what) override {
        if (what.what != flows::show_user::kind::browser_url) t_.show(what);
    }
private:
    user_port& t_;
};

// A hybrid login shows ONE block: "finish in the browser latch opened, or open this URL
// and enter the code" (issue 17 #5). The browser side leaves its authorize URL here and
// the device side's prompt carries it; whichever side speaks second knows the other did.
struct hybrid_notice {
    std::string authorize_url;
    bool device_shown = false;
};

// The device side's prompts, with the browser alternative of a hybrid login added.
class device_user final : public user_port {
public:
    device_user(user_port& t, hybrid_notice* h) : t_(t), h_(h) {}
    void show(const flows::show_user& what) override {
        if (!h_ || what.what != flows::show_user::kind::device_code) return t_.show(what);
        flows::show_user with = what;
        with.browser_alternative = h_->authorize_url;
        h_->device_shown = true;
        t_.show(with);
    }
private:
    user_port& t_;
    hybrid_notice* h_;
};

// What one side of a login obtained.
struct side_out {
    token_set tokens;
    diagnostics diag;
    login_method method = login_method::unknown;
    std::optional<std::string> nonce;
    std::uint16_t loopback_port = 0;  // the callback reached the listener on it
};

struct login_env {
    client_services& client;
    const client_config& c;
    const provider_metadata& m;
    const login_options& o;
    login_ports p;
    hybrid_notice* hybrid = nullptr;  // set in a hybrid login
};

// Issue 18 #11: the port a login worked on is remembered because the IdP may accept only
// that one; busy now, the user has to choose.
std::string remembered_port_busy(std::uint16_t port) {
    const auto n = std::to_string(port);
    return "port " + n + " on 127.0.0.1 is already in use; this context remembers it from a "
           "login that worked (the identity provider may accept only http://127.0.0.1:" + n +
           "/callback): free it, or log in with --port N for another port the identity "
           "provider allows";
}

bool wants_offline(const client_config& c) {
    return std::find(c.scopes.begin(), c.scopes.end(), "offline_access") != c.scopes.end();
}

// A failure that is the user's decision (or a cancellation) ends the hybrid; an expired
// device code or a browser that never came back lets the other side run on.
bool ends_everything(const error_code& ec) {
    return ec == oauth_errc::access_denied || ec == client_errc::cancelled;
}

asio::awaitable<error_code> async_drive_into(flows::flow& flow, ports p, side_out& out) {
    auto r = co_await async_drive(flow, p, out.diag);
    if (!r) co_return r.error();
    out.tokens = std::move(*r);
    co_return error_code{};
}

asio::awaitable<error_code> async_countdown(login_user_port& user, clock_port& clock) {
    co_await user.async_countdown(clock);
    co_return client_errc::cancelled;  // it only ends when the flow it decorates ends
}

asio::awaitable<error_code> device_side(login_env e, side_out& out) {
    flows::device_params dp;
    dp.device_authorization_endpoint = e.m.device_authorization_endpoint;
    dp.token_endpoint = e.m.token_endpoint;
    dp.client_id = e.c.client_id;
    dp.scope = e.c.scope_string();
    dp.timeout = e.o.timeout;
    if (!e.o.audience.empty()) dp.extra_params.emplace_back("audience", e.o.audience);
    flows::device_flow flow{std::move(dp)};
    out.method = login_method::device;
    device_user shown{e.p.user, e.hybrid};
    ports ps{e.client.http, e.client.clock, shown};
    if (!e.p.user.wants_countdown()) co_return co_await async_drive_into(flow, ps, out);
    // The countdown only decorates the wait; whichever ends first ends the other.
    auto drive = async_drive_into(flow, ps, out);
    auto countdown = async_countdown(e.p.user, e.client.clock);
    auto r = co_await async_race(std::move(drive), std::move(countdown), any_error);
    co_return r.first == 0 ? r.ec[0] : error_code(client_errc::cancelled);
}

flows::auth_code_params browser_params(const login_env& e, std::string redirect_uri) {
    flows::auth_code_params ap;
    ap.authorization_endpoint = e.m.authorization_endpoint;
    ap.token_endpoint = e.m.token_endpoint;
    ap.client_id = e.c.client_id;
    ap.scope = e.c.scope_string();
    ap.redirect_uri = std::move(redirect_uri);
    ap.issuer = e.m.issuer;
    ap.iss_parameter_supported = e.m.authorization_response_iss_parameter_supported;
    ap.timeout = e.o.timeout;
    ap.ephemeral_port = e.o.port == 0;
    // OIDC Core §11: offline_access is only granted with prompt=consent.
    if (wants_offline(e.c)) ap.prompt = "consent";
    if (!e.o.audience.empty()) ap.extra_auth_params.emplace_back("audience", e.o.audience);
    return ap;
}

// Pre-flight notice (seed 001): the exact redirect URI the IdP must allow-list and the URL
// to open, worded for what happens next (latch opens a browser, or the user must: with
// --no-browser-open or no usable browser). In a hybrid login the URL goes into the device
// prompt's single block instead. A plain function: no temporaries in a coroutine (GCC 12).
std::string announce_text(const login_env& e, const std::string& redirect_uri,
                          const std::string& url, bool launch, bool reads_paste) {
    std::string text = "Browser login: redirect URI " + redirect_uri + " (client " +
                       e.c.client_id + ") must be allowed at the identity provider.";
    if (e.hybrid && !e.hybrid->device_shown) e.hybrid->authorize_url = url;
    else if (e.hybrid)
        text += "\nOr finish in the browser latch is opening (if none opens, open this link:\n  " + url + ")";
    else if (launch)
        text += "\nOpening this URL in your browser (open it yourself if nothing happens):\n  " + url;
    else
        text += "\nOpen this URL in a browser to sign in:\n  " + url;
    if (reads_paste)
        text += "\nIf the browser runs on another machine, paste the URL it lands on here.";
    return text;
}

// The notice, then the browser is opened (when a browser port is given).
asio::awaitable<void> async_announce(const login_env& e, const std::string& redirect_uri,
                                     const std::string& url, bool reads_paste) {
    std::optional<browser_decision> d;
    if (e.p.browser) d = e.p.browser->decide();
    const bool launch = d && d->launch;
    flows::show_user notice;
    notice.message = announce_text(e, redirect_uri, url, launch, reads_paste);
    if (e.o.port == 0)  // issue 18 #11: IdPs that compare the port need a fixed one
        notice.message += "\nNote: " + flows::ephemeral_port_hint() + ".";
    e.p.user.show(notice);
    if (!d) co_return;
    diagnostics bd;
    if (!launch) e.p.user.show({.message = "Not opening a browser: " + d->reason});
    else if (co_await e.p.browser->async_open(url, bd))
        e.p.user.show({.message = "Failed to open the browser (" + bd.to_string() + "); open the URL above yourself."});
}

asio::awaitable<error_code> browser_side(login_env e, side_out& out) {
    auto ex = co_await asio::this_coro::executor;
    auto listener = loopback_listener::open(ex, e.o.port, "/callback", out.diag);
    if (!listener) {
        if (listener.error() == client_errc::port_in_use && e.o.port_remembered)
            out.diag.client_message = remembered_port_busy(e.o.port);
        co_return listener.error();
    }
    auto ap = browser_params(e, listener->redirect_uri());
    auto secrets = flows::make_auth_code_secrets();
    const auto url = flows::build_authorize_url(ap, secrets);
    const auto redirect_uri = ap.redirect_uri;
    out.nonce = secrets.nonce;
    out.method = login_method::browser;
    flows::auth_code_flow flow{std::move(ap), std::move(secrets)};
    // The flow decides which callbacks are genuine, for the listener and for pasted URLs.
    loopback_listener::acceptor_fn ours = [&flow](const flows::authorization_response& r) {
        return flow.accepts(r);
    };
    listener->set_acceptor(ours);
    // The browser may run elsewhere (SSH, a container): a pasted URL races the listener.
    paste_or_listener port{e.client, e.p.user, *listener, e.p.pasted, e.m,
                           {e.c.client_id, *out.nonce, ours}};
    co_await async_announce(e, redirect_uri, url, port.reads_paste());

    browser_user bu{e.p.user};
    auto ec = co_await async_drive_into(flow, ports{e.client.http, e.client.clock, bu, &port}, out);
    if (!ec && !port.pasted()) out.loopback_port = listener->port();
    listener->close();
    if (const auto& t = port.id_token_login()) {  // a verified pasted #id_token= won
        out.method = login_method::callback_url;
        out.loopback_port = 0;
        out.diag.clear();
        out.tokens = *t;
        co_return error_code{};
    }
    if (port.pasted()) out.method = login_method::browser_pasted;
    co_return ec;
}

login_mode choose_mode(const login_options& o, const provider_metadata& m, const login_ports& p) {
    if (o.way == login_way::device) return login_mode::device;
    if (o.way == login_way::browser) return login_mode::browser;
    const bool has_device = !m.device_authorization_endpoint.empty();
    const bool has_code = !m.authorization_endpoint.empty();
    if (!has_code) return login_mode::device;
    if (!has_device) return login_mode::browser;
    // Both advertised: race them when a browser can be opened here; over SSH or without a
    // display, the device flow alone (the user finishes on another machine).
    return p.browser && p.browser->decide().launch ? login_mode::hybrid : login_mode::device;
}

error_code check_endpoints(login_mode mode, const client_config& c, const provider_metadata& m,
                           diagnostics& diag) {
    if (mode != login_mode::browser && m.device_authorization_endpoint.empty()) {
        diag.client_message = "the identity provider at " + c.issuer +
                              " does not advertise a device authorization endpoint (RFC 8628)";
        return client_errc::endpoint_missing;
    }
    if (mode != login_mode::device && m.authorization_endpoint.empty()) {
        diag.client_message = "the identity provider at " + c.issuer +
                              " does not advertise an authorization endpoint";
        return client_errc::endpoint_missing;
    }
    return {};
}

result<flow_outcome> take(error_code ec, side_out& s, diagnostics& diag) {
    diag = std::move(s.diag);
    if (ec) return ec;
    return flow_outcome{std::move(s.tokens), s.method, s.nonce, s.loopback_port};
}

}  // namespace

asio::awaitable<result<flow_outcome>> async_interactive_login(
    client_services& client, const client_config& c, const provider_metadata& m,
    const login_options& o, login_ports p, diagnostics& diag) {
    const auto mode = choose_mode(o, m, p);
    if (auto ec = check_endpoints(mode, c, m, diag)) co_return ec;
    login_env e{client, c, m, o, p};
    side_out dev, web;
    if (mode == login_mode::device) co_return take(co_await device_side(e, dev), dev, diag);
    if (mode == login_mode::browser) co_return take(co_await browser_side(e, web), web, diag);
    // Hybrid: whichever side succeeds first wins; the other is cancelled at once (device
    // polling stops, the listener closes).
    hybrid_notice notice;
    e.hybrid = &notice;
    const lone_failure_fn still_waiting =
        [&](std::size_t side, const error_code& ec) {
            if (side == 0 && !notice.device_shown && !notice.authorize_url.empty())
                p.user.show({.message = "Finish in the browser latch opened (if none opened, open this link:\n  " +
                                        notice.authorize_url + ")"});
            p.user.warn(std::string(side == 0 ? "device" : "browser") + " login ended (" +
                        describe(ec, side == 0 ? dev.diag : web.diag) +
                        "); still waiting for the other one");
        };
    auto device = device_side(e, dev);
    auto browser = browser_side(e, web);
    auto r = co_await async_race(std::move(device), std::move(browser), ends_everything,
                                 &still_waiting);
    co_return take(r.ec[r.decided], r.decided == 0 ? dev : web, diag);
}

}  // namespace latchkey::transport::detail

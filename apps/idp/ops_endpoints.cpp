// latch-idp operations endpoints and event notes: /healthz, /readyz, /metrics (its own
// listener, serve --metrics-listen), and the sign-in / account events that move the
// counters and write the audit log.
#include "idp.hpp"
#include "ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace latchkey::idp {

namespace asio = boost::asio;
namespace fs = latchkey::flows::server;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// A database probe that outlives the request when the database does not answer in time.
struct db_probe {
    explicit db_probe(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<bool> answered;
};

asio::awaitable<void> run_probe(std::shared_ptr<db_probe> p, ts::store& store) {
    std::string id = "\x01readyz";  // never a client id: the answer is not_found
    auto found = co_await store.find_client(std::move(id));
    p->answered = found || found.error() == fs::server_errc::not_found;
    p->timer.cancel();
}

void write_audit(idp_state& st, fs::audit_event e) {
    if (!st.ops || !st.ops->audit.enabled()) return;
    e.platform = st.platform;
    if (!st.ops->audit.write(e)) st.ops->metrics.audit_write_failures.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

http_response plain_text(int status, std::string body) {
    http_response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
    return r;
}

http_response prometheus_text(std::string body) {
    auto r = plain_text(200, std::move(body));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
}

asio::awaitable<http_response> readyz(idp_state& st) {
    if (!st.keys.active) co_return plain_text(503, "signing keys not loaded\n");
    auto ex = co_await asio::this_coro::executor;
    auto probe = std::make_shared<db_probe>(ex);
    probe->timer.expires_after(std::chrono::seconds(1));
    asio::co_spawn(ex, run_probe(probe, st.store), asio::detached);
    auto [ec] = co_await probe->timer.async_wait(use_nothrow);
    (void)ec;  // cancelled by the probe, or expired: the answer says which
    if (!probe->answered) co_return plain_text(503, "the database did not answer within 1 s\n");
    if (!*probe->answered) co_return plain_text(503, "the database is failing or busy\n");
    co_return plain_text(200, "ready\n");
}

http_response healthz() {
    return plain_text(200, "ok\n");
}

http_response metrics_page(const idp_state& st) {
    if (!st.ops) return plain_text(404, "not found\n");
    ops_gauges g{st.hasher.in_flight(), st.hashing_capacity, st.store.queued(),
                 st.server ? st.server->open_connections() : 0};
    return prometheus_text(render_metrics(st.ops->metrics, g));
}

asio::awaitable<http_response> ops_dispatch(idp_state& st, const ts::server_request& req) {
    const auto path = req.path();
    if (path != "/metrics" && path != "/healthz" && path != "/readyz") co_return plain_text(404, "not found\n");
    if (req.method != http_method::get) {
        auto r = plain_text(405, "method not allowed\n");
        r.headers.emplace_back("Allow", "GET");
        co_return r;
    }
    if (path == "/healthz") co_return healthz();
    if (path == "/readyz") co_return co_await readyz(st);
    co_return metrics_page(st);
}

void note_sign_in(idp_state& st, const ts::server_request& req, login_method m, bool ok, std::string_view user_id,
                  std::string_view username, std::string_view reason) {
    if (st.ops) {
        auto& c = ok ? st.ops->metrics.logins : st.ops->metrics.login_failures;
        c[static_cast<std::size_t>(m)].fetch_add(1, std::memory_order_relaxed);
    }
    fs::audit_event e;
    e.time = unix_now();
    e.event = m == login_method::totp || m == login_method::backup_code ? "two_factor_verify" : "sign_in";
    e.outcome = ok ? "success" : "failure";
    e.user_id = user_id;
    e.username = username;
    e.ip = req.peer_ip;
    e.method = login_method_name(m);
    e.reason = reason;
    write_audit(st, e);
}

void note_event(idp_state& st, const ts::server_request* req, const account_event& a) {
    if (st.ops && a.event == "sign_up")
        (a.ok ? st.ops->metrics.sign_ups : st.ops->metrics.sign_up_failures).fetch_add(1, std::memory_order_relaxed);
    fs::audit_event e;
    e.time = unix_now();
    e.event = a.event;
    e.outcome = !a.outcome.empty() ? a.outcome : a.ok ? "success" : "failure";
    e.user_id = a.user_id;
    e.username = a.username;
    e.client_id = a.client_id;
    e.ip = req ? std::string_view(req->peer_ip) : std::string_view{};
    e.reason = a.reason;
    e.method = a.method;
    e.organization_id = a.organization_id;
    e.target = a.target;
    e.role = a.role;
    write_audit(st, e);
}

}  // namespace latchkey::idp

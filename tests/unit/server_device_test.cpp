// latch-idp: the device grant's poll decision (RFC 8628 §3.5, slow_down persisted), CSRF
// tokens, attempt limits and HTML escaping.
#include <latchkey/flows/server/device_grant.hpp>
#include <latchkey/flows/server/page_guard.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows::server;

namespace {

device_record pending() {
    device_record d;
    d.client_id = "cli";
    d.status = "pending";
    d.created_at = 1000;
    d.expires_at = 1600;
    d.interval = 5;
    return d;
}

}  // namespace

TEST_CASE("device poll: pending, then slow_down grows the stored interval by 5 s", "[unit][server][device]") {
    auto d = pending();
    auto first = decide_device_poll(d, "cli", 1005);
    CHECK(first.outcome == device_poll_outcome::authorization_pending);
    CHECK(first.updated.last_poll_at == 1005);
    d = first.updated;
    auto fast = decide_device_poll(d, "cli", 1008);  // 3 s < 5 s
    CHECK(fast.outcome == device_poll_outcome::slow_down);
    CHECK(fast.updated.interval == 10);
    CHECK(device_poll_error(fast.outcome) == oauth_errc::slow_down);
    d = fast.updated;
    // Polling again at the old 5 s pace still gets slow_down: the interval was persisted.
    auto old_pace = decide_device_poll(d, "cli", 1013);
    CHECK(old_pace.outcome == device_poll_outcome::slow_down);
    CHECK(old_pace.updated.interval == 15);
    d = old_pace.updated;
    auto patient = decide_device_poll(d, "cli", 1028);
    CHECK(patient.outcome == device_poll_outcome::authorization_pending);
    CHECK(patient.updated.interval == 15);
}

TEST_CASE("device poll: approved redeems once; denied, expired, other clients", "[unit][server][device]") {
    auto d = pending();
    d.status = "approved";
    d.user_id = "u1";
    auto win = decide_device_poll(d, "cli", 1100);
    CHECK(win.outcome == device_poll_outcome::issue);
    CHECK(win.updated.status == "consumed");
    CHECK(win.write);
    auto again = decide_device_poll(win.updated, "cli", 1200);
    CHECK(again.outcome == device_poll_outcome::invalid_grant);
    CHECK_FALSE(again.write);

    CHECK(decide_device_poll(d, "other", 1100).outcome == device_poll_outcome::invalid_grant);
    CHECK(decide_device_poll(d, "cli", 1600).outcome == device_poll_outcome::expired_token);
    auto denied = pending();
    denied.status = "denied";
    auto no = decide_device_poll(denied, "cli", 1100);
    CHECK(no.outcome == device_poll_outcome::access_denied);
    CHECK(device_poll_error(no.outcome) == oauth_errc::access_denied);
    CHECK(decide_device_poll(no.updated, "cli", 1200).outcome == device_poll_outcome::invalid_grant);
}

TEST_CASE("CSRF: the field must carry the cookie's nonce and our MAC", "[unit][server][csrf]") {
    const std::string key = "k3y-of-the-server";
    auto p = make_csrf(key);
    CHECK(check_csrf(key, p.cookie, p.field));
    CHECK_FALSE(check_csrf("another-key", p.cookie, p.field));
    CHECK_FALSE(check_csrf(key, "", p.field));
    CHECK_FALSE(check_csrf(key, p.cookie, ""));
    auto q = make_csrf(key);
    CHECK(q.cookie != p.cookie);
    CHECK_FALSE(check_csrf(key, p.cookie, q.field));  // a field from another session
    // An attacker who plants a cookie cannot make a matching field without the key.
    CHECK_FALSE(check_csrf(key, "planted", "planted.AAAA"));
}

TEST_CASE("attempt limits: per key and global, per minute window", "[unit][server][limits]") {
    attempt_limiter lim(3, 5);
    CHECK(lim.allow("1.1.1.1", 60));
    CHECK(lim.allow("1.1.1.1", 61));
    CHECK(lim.allow("1.1.1.1", 62));
    CHECK_FALSE(lim.allow("1.1.1.1", 63));  // per IP
    CHECK(lim.allow("2.2.2.2", 64));
    CHECK(lim.allow("3.3.3.3", 65));
    CHECK_FALSE(lim.allow("4.4.4.4", 66));  // global: 5 per minute
    CHECK(lim.allow("1.1.1.1", 120));       // next window
    attempt_limiter few_keys(10, 100, 2);
    CHECK(few_keys.allow("a", 0));
    CHECK(few_keys.allow("b", 0));
    CHECK_FALSE(few_keys.allow("c", 0));  // memory bound
}

TEST_CASE("attempt limits: a refunded attempt does not count; refunds never go below zero", "[unit][server][limits]") {
    attempt_limiter lim(2, 3);
    CHECK(lim.allow("1.1.1.1", 0));
    CHECK(lim.allow("1.1.1.1", 1));
    lim.refund("1.1.1.1", 2);
    CHECK(lim.allow("1.1.1.1", 3));  // per IP: 2 again
    CHECK_FALSE(lim.allow("1.1.1.1", 4));
    lim.refund("2.2.2.2", 5);  // never counted: nothing to give back
    lim.refund("1.1.1.1", 60);  // another window: nothing to give back
    CHECK(lim.allow("1.1.1.1", 61));
    CHECK(lim.allow("1.1.1.1", 62));
    CHECK_FALSE(lim.allow("1.1.1.1", 63));
    CHECK(lim.allow("2.2.2.2", 64));
    CHECK_FALSE(lim.allow("3.3.3.3", 65));  // global: 3, the refund of 2.2.2.2 did not lower it
}

TEST_CASE("html_escape covers text and attribute contexts", "[unit][server][html]") {
    CHECK(html_escape("<script>\"x\" & 'y'</script>") ==
          "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;");
}

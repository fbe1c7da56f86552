// RFC 8628 device authorization grant as a pure state machine (see device_flow.hpp).
#include <latchkey/flows/device_flow.hpp>

#include <latchkey/core/untrusted.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace latchkey::flows {
namespace json = boost::json;

namespace {

// RFC 8628 §3.5: "the client MUST use 5 as the default" when `interval` is absent; it grows
// by 5 s on every slow_down.
constexpr std::chrono::seconds slow_down_step{5};
// STYLE.md: after a transport error the wait doubles, but not beyond 10 s (or the interval,
// when that is already longer): a flaky network must not eat the code's lifetime.
constexpr std::chrono::seconds transport_backoff_cap{10};
constexpr std::int64_t max_seconds = 10LL * 365 * 24 * 3600;

std::optional<json::object> parse_object(std::string_view body) {
    error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::optional<std::string> get_string(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
}

enum class number_state { absent, invalid, ok };

// A JSON number of seconds; some servers send it as a string ("1800").
number_state get_seconds(const json::object& o, std::string_view key, std::int64_t& out) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return number_state::absent;
    const auto& v = it->value();
    std::int64_t secs = -1;
    if (v.is_int64()) {
        secs = v.as_int64();
    } else if (v.is_uint64()) {
        if (v.as_uint64() <= static_cast<std::uint64_t>(max_seconds))
            secs = static_cast<std::int64_t>(v.as_uint64());
    } else if (v.is_double()) {
        if (v.as_double() >= 0 && v.as_double() <= static_cast<double>(max_seconds))
            secs = static_cast<std::int64_t>(v.as_double());
    } else if (v.is_string()) {
        std::string_view s = v.as_string();
        auto digit = [](char c) { return c >= '0' && c <= '9'; };
        if (!s.empty() && s.size() < 12 && std::all_of(s.begin(), s.end(), digit))
            secs = std::stoll(std::string(s));
    }
    if (secs < 0 || secs > max_seconds) return number_state::invalid;
    out = secs;
    return number_state::ok;
}

std::string status_summary(const http_response& resp) {
    std::string s = "HTTP " + std::to_string(resp.status);
    if (!resp.content_type.empty()) s += " (" + escape_untrusted(resp.content_type, 60) + ")";
    return s;
}

bool is_2xx(const http_response& r) { return r.status >= 200 && r.status < 300; }

// RFC 8628 §3.2, the fields we use. Times are already validated.
struct code_reply {
    std::string device_code, user_code, uri, uri_complete;
    std::optional<seconds> expires_in;  // absent: the IdP did not say (we use the timeout)
    std::optional<seconds> interval;    // absent or 0: the default
};

// What the user will see comes from the IdP: a user_code that is not short printable
// text, or a verification URI that is not https (http on loopback), is refused before it
// reaches a terminal (ESC/OSC sequences, a CR-LF spoofing "logged in", javascript:...).
std::optional<std::string> unusable_prompt_field(const code_reply& c) {
    if (!valid_user_code(c.user_code))
        return "a `user_code` latch will not show (\"" + escape_untrusted(c.user_code, 40) +
               "\": it must be 1-" + std::to_string(max_user_code_length) +
               " printable ASCII characters)";
    const std::pair<const char*, const std::string*> uris[] = {
        {"verification_uri", &c.uri}, {"verification_uri_complete", &c.uri_complete}};
    for (const auto& [name, uri] : uris) {
        if (uri->empty()) continue;  // only verification_uri_complete may be absent
        if (auto why = url_problem(*uri); !why.empty())
            return std::string("an unusable `") + name + "` (\"" + escape_untrusted(*uri, 80) +
                   "\": " + why + ")";
    }
    return std::nullopt;
}

std::variant<code_reply, failed> parse_code_reply(const http_response& resp,
                                                  const std::string& url) {
    diagnostics d;
    if (auto ec = parse_oauth_error(resp, d))
        return make_failed(ec, "device authorization endpoint " + url + " refused the request (" +
                                   status_summary(resp) + ")", std::move(d));
    if (!is_2xx(resp))
        return make_failed(client_errc::bad_http_status,
                           "device authorization endpoint " + url + " answered " +
                               status_summary(resp));
    auto obj = parse_object(resp.body);
    if (!obj)
        return make_failed(client_errc::bad_json, "device authorization endpoint " + url +
                                                      " answered " + status_summary(resp) +
                                                      " with a body that is not a JSON object");
    code_reply c;
    c.device_code = get_string(*obj, "device_code").value_or("");
    c.user_code = get_string(*obj, "user_code").value_or("");
    c.uri = get_string(*obj, "verification_uri").value_or("");
    if (c.uri.empty()) c.uri = get_string(*obj, "verification_url").value_or("");  // Google
    c.uri_complete = get_string(*obj, "verification_uri_complete").value_or("");
    const char* missing = c.device_code.empty() ? "device_code"
                          : c.user_code.empty() ? "user_code"
                          : c.uri.empty()       ? "verification_uri"
                                                : nullptr;
    if (missing)
        return make_failed(client_errc::missing_field, "device authorization response from " +
                                                           url + " has no `" + missing + "`");
    if (auto bad = unusable_prompt_field(c))
        return make_failed(client_errc::bad_json,
                           "device authorization response from " + url + " has " + *bad);
    std::int64_t n = 0;
    switch (get_seconds(*obj, "expires_in", n)) {
    case number_state::absent: break;
    case number_state::ok: if (n > 0) { c.expires_in = seconds{n}; break; } [[fallthrough]];
    case number_state::invalid:
        return make_failed(client_errc::bad_json, "device authorization response from " + url +
                                                      " has an invalid `expires_in`");
    }
    switch (get_seconds(*obj, "interval", n)) {
    case number_state::absent: break;
    case number_state::ok: if (n > 0) c.interval = seconds{n}; break;
    case number_state::invalid:
        return make_failed(client_errc::bad_json, "device authorization response from " + url +
                                                      " has an invalid `interval`");
    }
    return c;
}

}  // namespace

device_flow::device_flow(device_params p)
    : device_flow(std::make_shared<const device_params>(std::move(p))) {}

device_flow::device_flow(std::shared_ptr<const device_params> p)
    : p_(std::move(p)), interval_(p_->default_interval) {
    if (interval_ <= std::chrono::seconds{0}) interval_ = std::chrono::seconds{5};
}

action device_flow::next(const event& ev) {
    if (state_ == state::finished)
        return make_failed(client_errc::flow_finished, "the device flow already finished");
    const time_point now = event_time(ev);
    switch (state_) {
    case state::initial:
        if (std::holds_alternative<started>(ev)) return finish(on_started(now));
        break;
    case state::requesting_code:
        if (auto* r = std::get_if<http_reply>(&ev)) return finish(on_code_reply(*r));
        break;
    case state::showing:
        if (std::holds_alternative<user_shown>(ev)) return finish(on_shown(now));
        break;
    case state::waiting:
    case state::expiring:
        if (std::holds_alternative<timer_fired>(ev)) return finish(on_timer(now));
        break;
    case state::polling:
        if (auto* r = std::get_if<http_reply>(&ev)) return finish(on_poll_reply(*r));
        break;
    case state::finished:
        break;
    }
    static constexpr const char* event_names[] = {"started", "http_reply", "timer_fired",
                                                  "user_shown", "callback_received"};
    return finish(make_failed(client_errc::bad_input,
                              std::string("device flow: unexpected event `") +
                                  event_names[ev.index()] + "` in this state"));
}

action device_flow::finish(action a) {
    if (std::holds_alternative<done>(a) || std::holds_alternative<failed>(a))
        state_ = state::finished;
    return a;
}

// RFC 8628 §3.1: client_id, optional scope, plus whatever the IdP wants (e.g. audience).
action device_flow::on_started(time_point) {
    std::vector<std::pair<std::string, std::string>> fields{{"client_id", p_->client_id}};
    if (!p_->scope.empty()) fields.emplace_back("scope", p_->scope);
    fields.insert(fields.end(), p_->extra_params.begin(), p_->extra_params.end());
    state_ = state::requesting_code;
    return send_request{make_form_post(p_->device_authorization_endpoint, fields)};
}

// Nothing has been granted yet, but a second request would show the user a different
// code, so a transport failure here simply ends the flow with a clear message.
action device_flow::on_code_reply(const http_reply& r) {
    const std::string& url = p_->device_authorization_endpoint;
    if (r.ec)
        return make_failed(r.ec, "device authorization request to " + url + " failed: " +
                                     r.ec.message());
    auto parsed = parse_code_reply(r.response, url);
    if (auto* f = std::get_if<failed>(&parsed)) return std::move(*f);
    auto& c = std::get<code_reply>(parsed);
    if (c.interval) interval_ = *c.interval;

    // The login ends at whichever comes first: the code's lifetime or our --timeout, both
    // counted from the reply's arrival (the event's `now`; the machine never reads a clock).
    const time_point timeout_at = r.now + p_->timeout;
    deadline_is_code_expiry_ = c.expires_in && r.now + *c.expires_in <= timeout_at;
    deadline_ = deadline_is_code_expiry_ ? r.now + *c.expires_in : timeout_at;
    device_code_ = std::move(c.device_code);

    // The prompt is handed over, not kept: a waiting flow holds no copy of it.
    show_user prompt;
    prompt.what = show_user::kind::device_code;
    prompt.verification_uri = std::move(c.uri);
    prompt.verification_uri_complete = std::move(c.uri_complete);
    prompt.user_code = std::move(c.user_code);
    prompt.expires_at = deadline_;
    if (c.expires_in) prompt.code_expires_at = r.now + *c.expires_in;
    state_ = state::showing;
    return prompt;
}

action device_flow::on_shown(time_point now) { return schedule_poll(now); }

// The wait before the next poll: the interval, or after k consecutive transport errors
// interval * 2^k capped at max(interval, 10 s). Never past the deadline: if the next poll
// would land on or after it, wait for the deadline itself and fail then (a poll at the
// deadline can only be answered with expired_token, and it costs the user that wait).
action device_flow::schedule_poll(time_point now) {
    auto wait = interval_;
    if (transport_errors_ > 0) {
        const auto cap = std::max(interval_, transport_backoff_cap);
        for (int i = 0; i < transport_errors_ && wait < cap; ++i) wait *= 2;
        wait = std::min(wait, cap);
    }
    if (now >= deadline_) return expire();
    if (now + wait >= deadline_) {
        state_ = state::expiring;
        return wait_until{deadline_};
    }
    state_ = state::waiting;
    return wait_until{now + wait};
}

action device_flow::expire() {
    if (deadline_is_code_expiry_)
        return make_failed(oauth_errc::expired_token,
                           "the device code expired before it was approved");
    return make_failed(client_errc::timeout,
                       "login timed out after " + std::to_string(p_->timeout.count()) + " s");
}

// RFC 8628 §3.4. A poll is not idempotent in transport's sense (it may return tokens), so
// transport never replays it; this machine decides when to poll again.
action device_flow::on_timer(time_point now) {
    if (state_ == state::expiring || now >= deadline_) return expire();
    ++polls_;
    state_ = state::polling;
    return send_request{make_form_post(
        p_->token_endpoint, {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                             {"device_code", device_code_},
                             {"client_id", p_->client_id}})};
}

// RFC 8628 §3.5.
action device_flow::on_poll_reply(const http_reply& r) {
    if (r.ec) {
        // Polling again is what RFC 8628 does anyway. If the lost answer carried tokens,
        // the IdP treats the next poll as a replay (IDP-NOTES.md): it answers invalid_grant
        // and we fail; it never hands out a second set of tokens.
        if (++transport_errors_ >= p_->max_transport_errors)
            return make_failed(r.ec, "token endpoint " + p_->token_endpoint + " failed " +
                                         std::to_string(transport_errors_) +
                                         " times in a row: " + r.ec.message());
        return schedule_poll(r.now);
    }
    transport_errors_ = 0;
    diagnostics d;
    auto tokens = parse_token_response(r.response, r.now, d);
    if (tokens) return done{std::move(*tokens)};
    const error_code ec = tokens.error();
    if (ec == oauth_errc::authorization_pending) return schedule_poll(r.now);
    if (ec == oauth_errc::slow_down) {
        auto next = interval_ + slow_down_step;
        if (auto obj = parse_object(r.response.body)) {
            std::int64_t server = 0;
            if (get_seconds(*obj, "interval", server) == number_state::ok &&
                seconds{server} > next)
                next = seconds{server};
        }
        interval_ = next;
        return schedule_poll(r.now);
    }
    if (ec == oauth_errc::expired_token)
        return make_failed(ec, "the device code expired before it was approved", std::move(d));
    if (ec == oauth_errc::access_denied)
        return make_failed(ec, "the identity provider denied the login", std::move(d));
    if (ec.category() == oauth_category())
        return make_failed(ec, "token endpoint " + p_->token_endpoint +
                                   " refused the device code (" + status_summary(r.response) + ")",
                           std::move(d));
    if (ec == client_errc::bad_http_status)
        return make_failed(ec, "token endpoint " + p_->token_endpoint + " answered " +
                                   status_summary(r.response), std::move(d));
    // The message is built before `d` is handed over: in one call expression the moved-from
    // diagnostics may be constructed first (unspecified order), leaving "...: " and nothing.
    std::string message = "token endpoint " + p_->token_endpoint + ": " + d.client_message;
    return make_failed(ec, std::move(message), std::move(d));
}

}  // namespace latchkey::flows

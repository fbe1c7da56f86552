// OAuth 2.0 Device Authorization Grant (RFC 8628) as a sans-I/O machine.
//
//   started -> send_request(device authorization, §3.1)
//   reply   -> show_user(user code, §3.3) -> user_shown -> wait_until(now + interval)
//   timer   -> send_request(token poll, §3.4)
//   reply   -> authorization_pending: wait interval; slow_down: interval += 5 s (§3.5);
//              transport error: interval doubled, capped at 10 s... bounded in count;
//              expired_token / access_denied / other error: failed; tokens: done.
// The overall deadline is min(expires_in, timeout) from the moment the code was issued;
// no poll is sent past it (client_errc::timeout, or oauth_errc::expired_token when the
// code's own lifetime ran out).
#pragma once

#include <latchkey/flows/flow.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace latchkey::flows {

struct device_params {
    std::string device_authorization_endpoint;
    std::string token_endpoint;
    std::string client_id;
    std::string scope;                                 // space separated, may be empty
    std::vector<std::pair<std::string, std::string>> extra_params;  // e.g. audience
    std::chrono::seconds timeout{300};                 // --timeout (seed 000: 5 min)
    std::chrono::seconds default_interval{5};          // RFC 8628 §3.2
    int max_transport_errors = 5;                      // consecutive, then fail
};

// The machine keeps the parameters by shared pointer, so many flows of one issuer (a
// multiplexed driver: transport/multi_drive.hpp) share one copy; what a waiting flow owns
// itself is its device code, deadline, interval and counters (~100 bytes).
class device_flow final : public flow {
public:
    explicit device_flow(device_params p);
    explicit device_flow(std::shared_ptr<const device_params> p);
    action next(const event& ev) override;

    // Observable for tests and status output.
    std::chrono::seconds interval() const noexcept { return interval_; }
    int polls_sent() const noexcept { return polls_; }

private:
    // expiring: the next poll would cross the deadline, so we wait for the deadline itself.
    enum class state : std::uint8_t {
        initial, requesting_code, showing, waiting, expiring, polling, finished
    };

    action on_started(time_point now);
    action on_code_reply(const http_reply& r);
    action on_shown(time_point now);
    action on_timer(time_point now);
    action on_poll_reply(const http_reply& r);
    action schedule_poll(time_point now);
    action expire();
    action finish(action a);

    std::shared_ptr<const device_params> p_;
    std::string device_code_;
    time_point deadline_{};
    std::chrono::seconds interval_{5};
    int polls_ = 0;
    int transport_errors_ = 0;
    state state_ = state::initial;
    bool deadline_is_code_expiry_ = false;
};

}  // namespace latchkey::flows

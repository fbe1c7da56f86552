#include <latchkey/flows/server/device_grant.hpp>

namespace latchkey::flows::server {

device_poll_decision decide_device_poll(const device_record& stored, std::string_view client_id, std::int64_t now) {
    device_poll_decision d{device_poll_outcome::invalid_grant, stored, false};
    if (stored.client_id != client_id || stored.status == "consumed") return d;
    if (now >= stored.expires_at) {
        d.outcome = device_poll_outcome::expired_token;
        return d;
    }
    d.write = true;
    if (stored.last_poll_at != 0 && now - stored.last_poll_at < stored.interval) {
        d.outcome = device_poll_outcome::slow_down;
        d.updated.interval = stored.interval + 5;
        d.updated.last_poll_at = now;
        return d;
    }
    d.updated.last_poll_at = now;
    if (stored.status == "approved") {
        d.outcome = device_poll_outcome::issue;
        d.updated.status = "consumed";
    } else if (stored.status == "denied") {
        d.outcome = device_poll_outcome::access_denied;
        d.updated.status = "consumed";  // answered once; later polls get invalid_grant
    } else {
        d.outcome = device_poll_outcome::authorization_pending;
    }
    return d;
}

oauth_errc device_poll_error(device_poll_outcome o) noexcept {
    switch (o) {
    case device_poll_outcome::authorization_pending: return oauth_errc::authorization_pending;
    case device_poll_outcome::slow_down: return oauth_errc::slow_down;
    case device_poll_outcome::access_denied: return oauth_errc::access_denied;
    case device_poll_outcome::expired_token: return oauth_errc::expired_token;
    default: return oauth_errc::invalid_grant;
    }
}

}  // namespace latchkey::flows::server

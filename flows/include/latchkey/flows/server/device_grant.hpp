// The device authorization grant on the server side (RFC 8628): what a poll of the token
// endpoint does to a stored device authorization, as a pure function the storage adapter
// runs inside one transaction (so two polls cannot both redeem, and `slow_down` is
// persisted per code, §3.5).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/flows/server/records.hpp>

#include <cstdint>
#include <string_view>

namespace latchkey::flows::server {

enum class device_poll_outcome {
    issue,                  // approved: this poll redeems it (status becomes "consumed")
    authorization_pending,  // §3.5
    slow_down,              // polled sooner than `interval`: the stored interval grows by 5 s
    access_denied,          // the user denied
    expired_token,          // past expires_at
    invalid_grant,          // another client's code, or already redeemed
};

struct device_poll_decision {
    device_poll_outcome outcome = device_poll_outcome::invalid_grant;
    device_record updated;  // what to store (last_poll_at, interval, status)
    bool write = false;     // whether `updated` differs from what is stored
};

// `client_id` is the authenticated client polling. A poll earlier than last_poll_at +
// interval gets slow_down and interval += 5; the stored interval keeps growing, so a client
// that keeps polling at its old pace keeps getting slow_down (Better Auth does not persist
// it; RFC 8628 §3.5 asks for it).
device_poll_decision decide_device_poll(const device_record& stored, std::string_view client_id, std::int64_t now);

// The oauth error a non-issue outcome answers with.
oauth_errc device_poll_error(device_poll_outcome o) noexcept;

}  // namespace latchkey::flows::server

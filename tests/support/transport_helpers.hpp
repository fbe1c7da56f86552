// Test helpers for the transport component tests: one-call request, bounded polling.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/transport/http_client.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>

namespace latchkey::test {

struct outcome {
    error_code ec;
    diagnostics diag;
    http_response response;
    std::chrono::milliseconds elapsed{0};
};

// Sends `req` with `client` and collects everything the caller may want to check.
boost::asio::awaitable<outcome> async_fetch(transport::http_client& client, http_request req);

// Polls `pred` every millisecond until it holds or `bound` passes; returns the last value.
// For events with no completion to await (a server noticing a closed socket).
boost::asio::awaitable<bool> async_poll_until(std::function<bool()> pred,
                                              std::chrono::milliseconds bound =
                                                  std::chrono::milliseconds(2000));

}  // namespace latchkey::test

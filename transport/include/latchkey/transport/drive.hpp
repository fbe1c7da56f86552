// The one driver that runs any flow on an io_context (STYLE.md "Driver").
#pragma once

#include <latchkey/flows/flow.hpp>
#include <latchkey/transport/ports.hpp>

namespace latchkey::transport {

// Runs `flow` to completion. Errors come back as the result's error with details in
// `diag`. Cancellation (e.g. Ctrl-C through a bound cancellation slot) ends the drive with
// client_errc::cancelled. References must outlive the co_await.
boost::asio::awaitable<result<token_set>> async_drive(flows::flow& flow, ports p,
                                                      diagnostics& diag);

}  // namespace latchkey::transport

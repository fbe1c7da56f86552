// RFC 8693 token exchange run against the IdP: flows::token_exchange_flow through the
// driver. The caller finds the token endpoint (client_services::async_discover) and the
// subject token (token_source::token), and decides what to do with the issued token.
#pragma once

#include <latchkey/flows/token_exchange.hpp>
#include <latchkey/transport/client_services.hpp>

#include <boost/asio/awaitable.hpp>

namespace latchkey::transport {

// The issued token as the token set's access_token. Errors: the IdP's (invalid_grant: the
// subject token is no longer accepted; invalid_target, invalid_scope, ...), transport
// errors (never retried), the response checks of flows::check_exchange_response.
// Supports the cancellation of http_port::async_send.
boost::asio::awaitable<result<token_set>> async_exchange_token(client_services& client,
                                                               flows::token_exchange_params p,
                                                               diagnostics& diag);

}  // namespace latchkey::transport

#include <latchkey/transport/token_exchange.hpp>

#include <latchkey/transport/drive.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {
// A token exchange shows the user nothing.
class no_user final : public user_port {
public:
    void show(const flows::show_user&) override {}
};
}  // namespace

asio::awaitable<result<token_set>> async_exchange_token(client_services& client,
                                                        flows::token_exchange_params p,
                                                        diagnostics& diag) {
    flows::token_exchange_flow flow{std::move(p)};
    no_user user;
    ports io{client.http, client.clock, user};
    co_return co_await async_drive(flow, io, diag);
}

}  // namespace latchkey::transport

#include <latchkey/flows/flow.hpp>

namespace latchkey::flows {

failed make_failed(error_code ec, std::string client_message, diagnostics diag) {
    if (!client_message.empty()) diag.client_message = std::move(client_message);
    return failed{ec, std::move(diag)};
}

time_point event_time(const event& ev) {
    return std::visit([](const auto& e) { return e.now; }, ev);
}

}  // namespace latchkey::flows

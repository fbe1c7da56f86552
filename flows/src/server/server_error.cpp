#include <latchkey/flows/server/server_error.hpp>

#include <string>

namespace latchkey::flows::server {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "latchkey.server"; }
    std::string message(int ev) const override {
        switch (static_cast<server_errc>(ev)) {
        case server_errc::busy: return "too many requests in the queue; try again shortly";
        case server_errc::not_found: return "not found";
        case server_errc::already_exists: return "already exists";
        case server_errc::storage_failed: return "storage failed";
        case server_errc::bad_config: return "bad configuration";
        }
        return "unknown server error";
    }
};

}  // namespace

const boost::system::error_category& server_category() noexcept {
    static const category c;
    return c;
}

}  // namespace latchkey::flows::server

// Errors of the server side (latch-idp) that are not OAuth `error` values: storage and the
// password-hashing pool. OAuth answers to clients use oauth_errc (core/error.hpp).
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace latchkey::flows::server {

enum class server_errc {
    busy = 1,         // a bounded queue is full: answer 503 with Retry-After
    not_found,        // no such record
    already_exists,   // a unique key is taken (client id, user name)
    storage_failed,   // the database refused or failed (message in the log, never to clients)
    bad_config,       // limits or settings that cannot work (refused at start-up)
};

const boost::system::error_category& server_category() noexcept;

inline boost::system::error_code make_error_code(server_errc e) noexcept {
    return {static_cast<int>(e), server_category()};
}

}  // namespace latchkey::flows::server

template <>
struct boost::system::is_error_code_enum<latchkey::flows::server::server_errc> : std::true_type {};

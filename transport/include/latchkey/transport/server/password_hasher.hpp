// Password hashing for latch-idp: argon2id (libargon2) at OWASP's minimum or above
// (19 MiB, t=2, p=1), on a bounded pool of threads so that the io_context never computes a
// hash (about 30 ms each) and a flood of sign-ins cannot queue without bound.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/secret.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace latchkey::transport::server {

struct argon2_params {
    std::uint32_t memory_kib = 19 * 1024;  // OWASP Password Storage Cheat Sheet minimum
    std::uint32_t iterations = 2;
    std::uint32_t parallelism = 1;
};

// Synchronous (the admin CLI, and the pool's threads). The result is argon2's encoded
// string ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") with a fresh 16-byte salt.
// Errors: server_errc::bad_config when libargon2 refuses the parameters.
result<std::string> hash_password(const secret& password, const argon2_params& params = {});
// Constant-time in the hash comparison (libargon2). false for a malformed `encoded`.
bool verify_password(const std::string& encoded, const secret& password);

class password_hasher {
public:
    // `threads` workers (the number of cores is a good choice), at most `max_queued`
    // hashes waiting or running.
    password_hasher(std::size_t threads, std::size_t max_queued, argon2_params params = {});
    ~password_hasher();
    password_hasher(const password_hasher&) = delete;
    password_hasher& operator=(const password_hasher&) = delete;

    // Complete on the caller's executor. Errors: server_errc::busy when the queue is full
    // (answer 503 with Retry-After). Not cancellable once queued.
    boost::asio::awaitable<result<std::string>> async_hash(secret password);
    boost::asio::awaitable<result<bool>> async_verify(std::string encoded, secret password);

    // Hashes waiting or running now (for metrics and tests).
    std::size_t in_flight() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace latchkey::transport::server

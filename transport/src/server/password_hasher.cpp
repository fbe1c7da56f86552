#include <latchkey/transport/server/password_hasher.hpp>

#include "offload.hpp"

#include <argon2.h>
#include <openssl/rand.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace latchkey::transport::server {

using flows::server::server_errc;

result<std::string> hash_password(const secret& password, const argon2_params& p) {
    unsigned char salt[16];
    if (RAND_bytes(salt, sizeof salt) != 1) return make_error_code(server_errc::bad_config);
    constexpr std::size_t hash_len = 32;
    const std::size_t enc_len = argon2_encodedlen(p.iterations, p.memory_kib, p.parallelism, sizeof salt,
                                                  hash_len, Argon2_id);
    std::vector<char> encoded(enc_len);
    const auto& pw = password.reveal();
    const int rc = argon2id_hash_encoded(p.iterations, p.memory_kib, p.parallelism, pw.data(), pw.size(), salt,
                                         sizeof salt, hash_len, encoded.data(), encoded.size());
    if (rc != ARGON2_OK) return make_error_code(server_errc::bad_config);
    return std::string(encoded.data());
}

bool verify_password(const std::string& encoded, const secret& password) {
    const auto& pw = password.reveal();
    return argon2id_verify(encoded.c_str(), pw.data(), pw.size()) == ARGON2_OK;
}

namespace {

// The hashing threads run 10 nice levels below the rest of the process (once per thread;
// Linux applies PRIO_PROCESS with a thread id to that thread only). On a busy core the
// io_context thread then preempts a hash at once instead of waiting behind it, so other
// requests keep their latency while sign-ins hammer the server; hashing takes what is left.
void lower_hashing_thread_priority() {
    thread_local const bool lowered = [] {
        const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
        errno = 0;
        const int now = ::getpriority(PRIO_PROCESS, tid);
        return errno == 0 && ::setpriority(PRIO_PROCESS, tid, std::min(now + 10, 19)) == 0;
    }();
    (void)lowered;
}

}  // namespace

struct password_hasher::impl {
    impl(std::size_t threads, std::size_t max_queued, argon2_params p) : params(p), pool(threads, max_queued) {}
    argon2_params params;
    detail::offload_pool pool;
};

password_hasher::password_hasher(std::size_t threads, std::size_t max_queued, argon2_params params)
    : impl_(std::make_unique<impl>(threads, max_queued, params)) {}

password_hasher::~password_hasher() = default;

boost::asio::awaitable<result<std::string>> password_hasher::async_hash(secret password) {
    return impl_->pool.run<result<std::string>>(
        [pw = std::move(password), p = impl_->params] {
            lower_hashing_thread_priority();
            return hash_password(pw, p);
        });
}

boost::asio::awaitable<result<bool>> password_hasher::async_verify(std::string encoded, secret password) {
    return impl_->pool.run<result<bool>>(
        [enc = std::move(encoded), pw = std::move(password)] {
            lower_hashing_thread_priority();
            return result<bool>(verify_password(enc, pw));
        });
}

std::size_t password_hasher::in_flight() const {
    return impl_->pool.in_flight();
}

}  // namespace latchkey::transport::server

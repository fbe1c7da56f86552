// Sign-in rate limits (Better Auth's 3-per-window rule, made to hold across replicas):
// per client address and in total, per minute. On SQLite (one process) the in-memory
// counter decides; on a shared database the store counts (one atomic upsert per key), so
// N replicas enforce one limit rather than N.
#include "idp.hpp"

namespace latchkey::idp {

boost::asio::awaitable<bool> allow_sign_in(idp_state& st, const ts::server_request& req) {
    const std::int64_t now = unix_now();
    if (!st.shared_limits) co_return st.account_attempts.allow(req.peer_ip, now);
    const std::int64_t window = now - now % 60;
    const std::string per_client = "sign-in:" + req.peer_ip, total = "sign-in:*";
    auto mine = co_await st.store.count_attempt(per_client, window);
    if (mine && static_cast<std::uint64_t>(*mine) > st.sign_in_limit_per_ip) co_return false;
    auto all = mine ? co_await st.store.count_attempt(total, window) : mine;
    if (all) co_return static_cast<std::uint64_t>(*all) <= st.sign_in_limit_total;
    // The database failed: this process's own counter still bounds the guesses.
    co_return st.account_attempts.allow(req.peer_ip, now);
}

}  // namespace latchkey::idp

// Two-factor on PostgreSQL (pg_store_impl.hpp). The once-only rules are single statements:
// a TOTP step is accepted by a conditional UPDATE (last_step < step), a backup code is spent
// by a DELETE, a challenge is used by a DELETE; of N concurrent attempts on any replicas
// exactly one sees its row change. Enrolment and new backup codes are transactions.
#include "pg_store_impl.hpp"
#include "record_text.hpp"

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

#define LATCH_TWO_FACTOR_COLUMNS "user_id, sealed_key, verified, last_step, failures, locked_until, created_at"

two_factor_record two_factor_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.flag(2), r.int64(3), r.int64(4), r.int64(5), r.int64(6)};
}
two_factor_challenge challenge_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.flag(3), r.int64(4)};
}
std::int64_t count_from(const pg_row& r) { return r.int64(0); }

constexpr const char* put_two_factor_sql =
    "INSERT INTO two_factor (" LATCH_TWO_FACTOR_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (user_id) DO UPDATE SET sealed_key = excluded.sealed_key, verified = excluded.verified, "
    "last_step = excluded.last_step, failures = excluded.failures, locked_until = excluded.locked_until, "
    "created_at = excluded.created_at";
constexpr const char* delete_backup_codes_sql = "DELETE FROM backup_codes WHERE user_id = $1";
// The hashes travel as one space-separated parameter (they are base64url/hex: no spaces).
constexpr const char* insert_backup_codes_sql =
    "INSERT INTO backup_codes (code_hash, user_id) SELECT h, $2 FROM unnest(string_to_array($1, ' ')) AS h";
constexpr const char* find_two_factor_sql = "SELECT " LATCH_TWO_FACTOR_COLUMNS " FROM two_factor WHERE user_id = $1";
constexpr const char* delete_two_factor_sql =
    "WITH t AS (DELETE FROM two_factor WHERE user_id = $1) DELETE FROM backup_codes WHERE user_id = $1";
constexpr const char* accept_totp_sql = "UPDATE two_factor SET last_step = $2, verified = 1, failures = 0 "
                                        "WHERE user_id = $1 AND last_step < $2 AND locked_until <= $3";
constexpr const char* record_failure_sql =
    "UPDATE two_factor SET "
    "locked_until = CASE WHEN failures + 1 >= $3::bigint THEN $2::bigint + $4::bigint ELSE locked_until END, "
    "failures = CASE WHEN failures + 1 >= $3::bigint THEN 0 ELSE failures + 1 END "
    "WHERE user_id = $1 RETURNING " LATCH_TWO_FACTOR_COLUMNS;
constexpr const char* consume_backup_sql =
    "DELETE FROM backup_codes WHERE code_hash = $1 AND user_id = $2 AND NOT EXISTS "
    "(SELECT 1 FROM two_factor t WHERE t.user_id = $2 AND t.locked_until > $3)";
constexpr const char* count_backup_sql = "SELECT COUNT(*) FROM backup_codes WHERE user_id = $1";
constexpr const char* put_challenge_sql = "INSERT INTO two_factor_challenges (token_hash, user_id, kind, remember, "
                                          "expires_at) VALUES ($1, $2, $3, $4, $5)";
constexpr const char* find_challenge_sql = "SELECT token_hash, user_id, kind, remember, expires_at FROM "
                                           "two_factor_challenges WHERE token_hash = $1 AND expires_at > $2";
constexpr const char* delete_challenge_sql = "DELETE FROM two_factor_challenges WHERE token_hash = $1";

}  // namespace

asio::awaitable<error_code> pg_store::put_two_factor(two_factor_record t, std::vector<std::string> hashes) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    pg_conn& c = **lease;
    if (auto ec = co_await begin(c)) co_return ec;
    const pg_params row(t.user_id, t.sealed_key, t.verified, t.last_step, t.failures, t.locked_until, t.created_at);
    auto put = co_await q(c, put_two_factor_sql, row);
    if (!put) co_return put.error();  // c is in a failed transaction: dropped, so rolled back
    if (auto ec = co_await put_backup_codes(c, t.user_id, hashes)) co_return ec;
    co_return co_await commit(c);
}

asio::awaitable<error_code> pg_store::put_backup_codes(pg_conn& c, const std::string& user_id,
                                                       const std::vector<std::string>& hashes) {
    const pg_params user(user_id);
    auto deleted = co_await q(c, delete_backup_codes_sql, user);
    if (!deleted) co_return deleted.error();
    const pg_params codes(join_words(hashes), user_id);
    auto inserted = co_await q(c, insert_backup_codes_sql, codes);
    co_return inserted ? error_code{} : inserted.error();
}

asio::awaitable<result<two_factor_record>> pg_store::find_two_factor(std::string user_id) {
    return one<two_factor_record>(find_two_factor_sql, pg_params(user_id), two_factor_from);
}

asio::awaitable<error_code> pg_store::delete_two_factor(std::string user_id) {
    return exec(delete_two_factor_sql, pg_params(user_id));
}

asio::awaitable<result<bool>> pg_store::accept_totp_step(std::string user_id, std::int64_t step, std::int64_t now) {
    pg_params p(user_id, step, now);
    auto n = co_await changed(accept_totp_sql, std::move(p));
    if (!n) co_return bool_failure(n.error());
    co_return *n > 0;
}

asio::awaitable<result<two_factor_record>> pg_store::record_two_factor_failure(std::string user_id, std::int64_t now,
                                                                               flows::server::two_factor_lockout p) {
    return one<two_factor_record>(record_failure_sql, pg_params(user_id, now, p.max_failures, p.lock_seconds),
                                  two_factor_from);
}

asio::awaitable<result<bool>> pg_store::consume_backup_code(std::string user_id, std::string hash, std::int64_t now) {
    pg_params p(hash, user_id, now);
    auto n = co_await changed(consume_backup_sql, std::move(p));
    if (!n) co_return bool_failure(n.error());
    co_return *n > 0;
}

asio::awaitable<error_code> pg_store::replace_backup_codes(std::string user_id, std::vector<std::string> hashes) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    pg_conn& c = **lease;
    if (auto ec = co_await begin(c)) co_return ec;
    if (auto ec = co_await put_backup_codes(c, user_id, hashes)) co_return ec;
    co_return co_await commit(c);
}

asio::awaitable<result<std::int64_t>> pg_store::count_backup_codes(std::string user_id) {
    return one<std::int64_t>(count_backup_sql, pg_params(user_id), count_from);
}

asio::awaitable<error_code> pg_store::put_challenge(two_factor_challenge c) {
    return exec(put_challenge_sql, pg_params(c.token_hash, c.user_id, c.kind, c.remember, c.expires_at));
}

asio::awaitable<result<two_factor_challenge>> pg_store::find_challenge(std::string hash, std::int64_t now) {
    return one<two_factor_challenge>(find_challenge_sql, pg_params(hash, now), challenge_from);
}

asio::awaitable<result<bool>> pg_store::delete_challenge(std::string hash) {
    pg_params p(hash);
    auto n = co_await changed(delete_challenge_sql, std::move(p));
    if (!n) co_return bool_failure(n.error());
    co_return *n > 0;
}

}  // namespace latchkey::transport::server::detail

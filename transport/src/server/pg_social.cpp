// Social login on PostgreSQL (pg_store_impl.hpp): upstream providers and linked accounts.
// Linking is one transaction (the new user, if any, then the account row): of two concurrent
// callbacks for one upstream account the second's insert violates UNIQUE (provider_id,
// account_id) and its transaction is rolled back, new user included.
#include "pg_store_impl.hpp"

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

#define LATCH_PROVIDER_COLUMNS "name, issuer, client_id, sealed_secret, scope, created_at"

social_provider_record provider_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.int64(5)};
}

account_user account_user_from(const pg_row& r) {
    return {{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.int64(5)}, pg_user_from(r, 6)};
}

constexpr const char* put_provider_sql =
    "INSERT INTO social_providers (" LATCH_PROVIDER_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (name) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id, "
    "sealed_secret = excluded.sealed_secret, scope = excluded.scope";
// Byte order, as SQLite sorts (the database's collation may not).
constexpr const char* list_providers_sql =
    "SELECT " LATCH_PROVIDER_COLUMNS " FROM social_providers ORDER BY name COLLATE \"C\"";
constexpr const char* delete_provider_sql = "DELETE FROM social_providers WHERE name = $1";
constexpr const char* find_account_sql =
    "SELECT a.id, a.user_id, a.provider_id, a.account_id, a.issuer, a.created_at, " LATCH_PG_USER_COLUMNS
    " FROM account a JOIN users u ON u.id = a.user_id WHERE a.provider_id = $1 AND a.account_id = $2";
constexpr const char* find_user_by_email_sql =
    "SELECT " LATCH_PG_USER_COLUMNS " FROM users u WHERE u.email = $1 OR u.username = $1 "
    "ORDER BY u.created_at, u.id COLLATE \"C\" LIMIT 1";
constexpr const char* insert_account_sql =
    "INSERT INTO account (id, user_id, provider_id, account_id, issuer, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

}  // namespace

asio::awaitable<error_code> pg_store::put_social_provider(social_provider_record p) {
    return exec(put_provider_sql, pg_params(p.name, p.issuer, p.client_id, p.sealed_secret, p.scope, p.created_at));
}

asio::awaitable<result<std::vector<social_provider_record>>> pg_store::list_social_providers() {
    return all<social_provider_record>(list_providers_sql, pg_params(), provider_from);
}

asio::awaitable<error_code> pg_store::delete_social_provider(std::string name) {
    return changed_one(delete_provider_sql, pg_params(name));
}

asio::awaitable<result<account_user>> pg_store::find_account(std::string provider_id, std::string account_id) {
    return one<account_user>(find_account_sql, pg_params(provider_id, account_id), account_user_from);
}

asio::awaitable<result<user_record>> pg_store::find_user_by_email(std::string email) {
    return one<user_record>(find_user_by_email_sql, pg_params(email), pg_user_at0);
}

// A unique or foreign-key violation (the account linked already, the user name taken, no
// such user) is already_exists, with the transaction rolled back: nothing written.
asio::awaitable<error_code> pg_store::link_account(account_record a, std::optional<user_record> new_user) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    pg_conn& c = **lease;
    if (auto ec = co_await begin(c)) co_return ec;
    if (new_user) {
        const pg_params user = pg_user_params(*new_user);
        auto put = co_await q(c, pg_put_user_sql, user);
        if (!put) co_return co_await roll_back_with(c, put.error());
    }
    const pg_params account(a.id, a.user_id, a.provider_id, a.account_id, a.issuer, a.created_at);
    auto linked = co_await q(c, insert_account_sql, account);
    if (!linked) co_return co_await roll_back_with(c, linked.error());
    co_return co_await commit(c);
}

}  // namespace latchkey::transport::server::detail

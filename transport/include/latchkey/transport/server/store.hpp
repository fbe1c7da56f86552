// The server's storage port (latch-idp). Handlers await these operations; adapters
// (SQLite: sqlite_store.hpp, PostgreSQL: pg_store.hpp) implement them. Modelled on node-oidc-provider's adapter
// and fosite's storage interfaces, with one rule: whatever must happen at most once is ONE
// operation here (redeeming a code, rotating a refresh token), executed atomically by the
// adapter, never a find followed by an update in a handler.
//
// Every operation completes on the caller's executor. Errors (result's error):
//   server_errc::not_found       no such record (find/delete)
//   server_errc::already_exists  a unique key is taken (put)
//   server_errc::busy            the adapter's queue is full: answer 503 + Retry-After
//   server_errc::storage_failed  the database failed (the adapter logs the reason)
// Cancellation: none; an operation that started runs to its end (a half-done redemption
// would be worse than a late answer).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/flows/server/device_grant.hpp>
#include <latchkey/flows/server/records.hpp>
#include <latchkey/flows/server/totp.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::transport::server {

namespace records = latchkey::flows::server;

// Outcome of a single-use redemption.
enum class consume_status {
    consumed,  // this call won: the record is returned and can no longer be redeemed
    replayed,  // already redeemed before: everything its grant issued has been revoked
    expired,   // past expires_at (or revoked)
    unknown,   // no such hash
};

struct code_consume_result {
    consume_status status = consume_status::unknown;
    records::code_record code;  // filled for consumed and replayed
};

// A live session with its user (use_session).
struct session_use_result {
    records::session_record session;
    records::user_record user;
    bool extended = false;  // expires_at moved to now + ttl by this call (re-send the cookie)
};

// One page of users (Better Auth's admin list-users) and how many there are in all.
struct user_page {
    std::vector<records::user_record> users;
    std::int64_t total = 0;
};

// A linked upstream account with its user (find_account).
struct account_user {
    records::account_record account;
    records::user_record user;
};

// ---- organizations (Better Auth's organization plugin)
// An organization with its members, oldest first (each with the user's name and email).
struct organization_view {
    records::organization_record org;
    std::vector<records::member_record> members;
};

enum class invitation_answer { accept, reject, cancel };
enum class answer_status {
    done,            // pending and unexpired -> the new status (accept: the member row inserted)
    not_pending,     // already answered, canceled or expired: `invitation` as stored
    already_member,  // accept: the user is a member already (nothing changed)
};
struct invitation_answer_result {
    answer_status status = answer_status::not_pending;
    records::invitation_record invitation;  // after the change
    records::member_record member;          // accept: the row inserted
};

// A member changed or removed (change_member): the row before the change.
struct member_change {
    bool last_owner = false;  // refused: the organization would have no owner left
    records::member_record before;
};

struct refresh_rotate_result {
    consume_status status = consume_status::unknown;
    records::refresh_record old_token;  // filled for consumed and replayed
};

class store {
public:
    virtual ~store() = default;

    // Operations waiting or running on the adapter's threads now (for /metrics); 0 when the
    // adapter does not count them.
    virtual std::size_t queued() const { return 0; }

    // ---- clients, users, signing keys (administration and look-ups)
    virtual boost::asio::awaitable<error_code> put_client(records::client_record c) = 0;
    virtual boost::asio::awaitable<result<records::client_record>> find_client(std::string id) = 0;
    virtual boost::asio::awaitable<result<std::vector<records::client_record>>> list_clients() = 0;
    virtual boost::asio::awaitable<error_code> delete_client(std::string id) = 0;
    // RFC 7592 update: name, grant types, scope, jwks, registration token hash and dpop_bound;
    // not_found.
    virtual boost::asio::awaitable<error_code> update_client(records::client_record c) = 0;
    // RFC 7523 §3 item 7: records a client assertion's jti (hashed with its client id) until
    // `expires_at`; false when it was already there (a replay). Expired entries are purged.
    virtual boost::asio::awaitable<result<bool>> remember_jti(std::string jti_hash, std::int64_t expires_at,
                                                              std::int64_t now) = 0;

    virtual boost::asio::awaitable<error_code> put_user(records::user_record u) = 0;
    virtual boost::asio::awaitable<result<records::user_record>> find_user(std::string username) = 0;
    virtual boost::asio::awaitable<result<records::user_record>> find_user_by_id(std::string id) = 0;
    virtual boost::asio::awaitable<result<std::vector<records::user_record>>> list_users() = 0;
    virtual boost::asio::awaitable<error_code> delete_user(std::string username) = 0;
    // Replaces the user's username, name, email and password hash (found by id); not_found,
    // already_exists (the username is taken).
    virtual boost::asio::awaitable<error_code> update_user(records::user_record u) = 0;
    // ---- platform roles and bans (Better Auth's admin plugin); not_found: no such user id
    virtual boost::asio::awaitable<error_code> set_user_role(std::string user_id, std::string role) = 0;
    // Bans the user until `expires` (0: no end) and, in the same transaction, deletes their
    // sessions and sign-in challenges and revokes their refresh tokens (revoked_at = now).
    virtual boost::asio::awaitable<error_code> ban_user(std::string user_id, std::string reason, std::int64_t expires,
                                                        std::int64_t now) = 0;
    virtual boost::asio::awaitable<error_code> unban_user(std::string user_id) = 0;
    // Deletes every session of the user (none is fine).
    virtual boost::asio::awaitable<error_code> delete_user_sessions(std::string user_id) = 0;
    // Users by creation time (then id), `limit` from `offset`, and the total count.
    virtual boost::asio::awaitable<result<user_page>> page_users(std::int64_t limit, std::int64_t offset) = 0;

    virtual boost::asio::awaitable<error_code> put_signing_key(records::signing_key_record k) = 0;
    // Active and retired keys, newest first.
    virtual boost::asio::awaitable<result<std::vector<records::signing_key_record>>> list_signing_keys() = 0;

    // ---- browser sessions (point look-up by token hash)
    virtual boost::asio::awaitable<error_code> put_session(records::session_record s) = 0;
    // not_found also when expired at `now`.
    virtual boost::asio::awaitable<result<records::session_record>> find_session(std::string token_hash,
                                                                                 std::int64_t now) = 0;
    // The live session `token_hash` and its user. Sliding expiry (Better Auth's updateAge):
    // when it was last extended `update_age` or more seconds ago, expires_at becomes now + ttl
    // in the same call. not_found when unknown or expired.
    virtual boost::asio::awaitable<result<session_use_result>> use_session(std::string token_hash, std::int64_t now,
                                                                           std::int64_t update_age,
                                                                           std::int64_t ttl) = 0;
    // The live sessions of a user, newest first.
    virtual boost::asio::awaitable<result<std::vector<records::session_record>>> list_sessions(std::string user_id,
                                                                                              std::int64_t now) = 0;
    // Deletes the session `token_hash` if it belongs to `user_id` (any owner when empty).
    // false when there was no such session.
    virtual boost::asio::awaitable<result<bool>> delete_session(std::string token_hash, std::string user_id) = 0;

    // ---- consent (one record per user and client)
    // The scopes `user_id` granted `client_id`; not_found when never asked.
    virtual boost::asio::awaitable<result<std::string>> find_consent(std::string user_id, std::string client_id) = 0;
    // Stores (replaces) the granted scopes. Removed with the user or the client.
    virtual boost::asio::awaitable<error_code> put_consent(std::string user_id, std::string client_id,
                                                           std::string scope, std::int64_t now) = 0;

    // ---- single-use steps
    virtual boost::asio::awaitable<error_code> put_code(records::code_record c) = 0;
    // Redeems the code once. A second redemption gets `replayed` and revokes the refresh
    // tokens of the code's grant (family_id == grant_id), in the same transaction.
    virtual boost::asio::awaitable<result<code_consume_result>> consume_code(std::string code_hash,
                                                                             std::int64_t now) = 0;

    virtual boost::asio::awaitable<error_code> put_refresh(records::refresh_record r) = 0;
    // Marks `old_hash` rotated and stores `next` (same family) in one transaction. Presenting
    // an already rotated token gets `replayed` and revokes the whole family (RFC 9700
    // §4.14.2); a revoked or expired one gets `expired`.
    virtual boost::asio::awaitable<result<refresh_rotate_result>> rotate_refresh(
        std::string old_hash, records::refresh_record next, std::int64_t now) = 0;

    // RFC 7662: the refresh token `token_hash` as stored (rotated, revoked and expired ones
    // included: the caller decides); not_found when unknown.
    virtual boost::asio::awaitable<result<records::refresh_record>> find_refresh(std::string token_hash) = 0;

    // RFC 7009: revokes the family of the refresh token `token_hash` if it was issued to
    // `client_id`. false when there is no such token (the endpoint answers 200 anyway).
    virtual boost::asio::awaitable<result<bool>> revoke_refresh(std::string token_hash, std::string client_id,
                                                                std::int64_t now) = 0;
    // Has the grant `grant_id` been revoked (its code replayed, its refresh family reused or
    // revoked)? Its access tokens (`gid` claim) are then inactive at introspection/userinfo.
    virtual boost::asio::awaitable<result<bool>> grant_revoked(std::string grant_id) = 0;

    // ---- device authorization (RFC 8628)
    // already_exists when the user code is taken (the caller draws a new one); busy when
    // `max_pending` authorizations are already pending (the bound user codes are sized for).
    virtual boost::asio::awaitable<error_code> put_device(records::device_record d, std::int64_t max_pending) = 0;
    // A pending, unexpired authorization by its canonical user code; not_found otherwise.
    virtual boost::asio::awaitable<result<records::device_record>> find_pending_device(std::string user_code,
                                                                                       std::int64_t now) = 0;
    // pending -> approved (with user_id and the approving session's active organization, ""
    // for none) or denied, atomically; not_found when it is no longer pending or has expired
    // (someone else answered first).
    virtual boost::asio::awaitable<result<records::device_record>> answer_device(std::string user_code,
                                                                                 std::string user_id,
                                                                                 bool approve,
                                                                                 std::int64_t now,
                                                                                 std::string organization_id = {}) = 0;
    // One token-endpoint poll: runs flows::server::decide_device_poll on the stored row and
    // writes its update in the same transaction. not_found for an unknown device code.
    virtual boost::asio::awaitable<result<flows::server::device_poll_decision>> poll_device(
        std::string device_code_hash, std::string client_id, std::int64_t now) = 0;

    // ---- two-factor (TOTP and backup codes; issue 14)
    // Enrolment (again): the user's key, unverified, last_step -1, and `backup_hashes` replacing
    // any earlier codes, in one transaction.
    virtual boost::asio::awaitable<error_code> put_two_factor(records::two_factor_record t,
                                                              std::vector<std::string> backup_hashes) = 0;
    virtual boost::asio::awaitable<result<records::two_factor_record>> find_two_factor(std::string user_id) = 0;
    // Removes the key and the backup codes (disable).
    virtual boost::asio::awaitable<error_code> delete_two_factor(std::string user_id) = 0;
    // A correct TOTP code for `step`: one compare-and-set (last_step < step, not locked at
    // `now`) that also marks the enrolment verified and clears the failures. false: another
    // request used this step (or a newer one) first, or the factor is locked. Of N concurrent
    // submissions of one code exactly one gets true.
    virtual boost::asio::awaitable<result<bool>> accept_totp_step(std::string user_id, std::int64_t step,
                                                                  std::int64_t now) = 0;
    // A wrong code: failures + 1; reaching `policy.max_failures` locks the factor until now +
    // lock_seconds (and restarts the count). Returns the row after the update.
    virtual boost::asio::awaitable<result<records::two_factor_record>> record_two_factor_failure(
        std::string user_id, std::int64_t now, flows::server::two_factor_lockout policy) = 0;
    // Spends one backup code (one DELETE): true exactly once per code, never while locked.
    virtual boost::asio::awaitable<result<bool>> consume_backup_code(std::string user_id, std::string code_hash,
                                                                     std::int64_t now) = 0;
    virtual boost::asio::awaitable<error_code> replace_backup_codes(std::string user_id,
                                                                    std::vector<std::string> backup_hashes) = 0;
    virtual boost::asio::awaitable<result<std::int64_t>> count_backup_codes(std::string user_id) = 0;
    // Sign-ins waiting for the second factor.
    virtual boost::asio::awaitable<error_code> put_challenge(records::two_factor_challenge c) = 0;
    // not_found also when expired at `now`.
    virtual boost::asio::awaitable<result<records::two_factor_challenge>> find_challenge(std::string token_hash,
                                                                                         std::int64_t now) = 0;
    // true for the one call that removed it (the challenge becomes one session, once).
    virtual boost::asio::awaitable<result<bool>> delete_challenge(std::string token_hash) = 0;

    // ---- social login (upstream providers and linked accounts; issue 14)
    // Adds or replaces (by name) a provider.
    virtual boost::asio::awaitable<error_code> put_social_provider(records::social_provider_record p) = 0;
    // All providers, by name.
    virtual boost::asio::awaitable<result<std::vector<records::social_provider_record>>> list_social_providers() = 0;
    // not_found when there is none; linked accounts stay (they name the provider only).
    virtual boost::asio::awaitable<error_code> delete_social_provider(std::string name) = 0;
    // The account (provider_id, account_id) and its user; not_found when not linked.
    virtual boost::asio::awaitable<result<account_user>> find_account(std::string provider_id,
                                                                      std::string account_id) = 0;
    // The oldest user whose email (or user name) is `email`; not_found when none.
    virtual boost::asio::awaitable<result<records::user_record>> find_user_by_email(std::string email) = 0;
    // Links `a` to its user in one transaction, first creating `new_user` when given (then
    // a.user_id must be its id). already_exists when the account is linked already (a
    // concurrent callback won) or the new user's name is taken; nothing is written then.
    virtual boost::asio::awaitable<error_code> link_account(records::account_record a,
                                                            std::optional<records::user_record> new_user) = 0;
    // ---- organizations (issue 14; Better Auth's organization plugin)
    // The organization and its first member (the creator, owner) in one transaction.
    // already_exists: the slug is taken.
    virtual boost::asio::awaitable<error_code> create_organization(records::organization_record org,
                                                                   records::member_record owner) = 0;
    // name, slug, logo, metadata of `org.id`; not_found, already_exists (slug).
    virtual boost::asio::awaitable<error_code> update_organization(records::organization_record org) = 0;
    // The organization, its members and invitations; sessions that had it active lose it.
    virtual boost::asio::awaitable<error_code> delete_organization(std::string id) = 0;
    // By id, or by slug when `by_slug`; not_found.
    virtual boost::asio::awaitable<result<organization_view>> find_organization(std::string key, bool by_slug) = 0;
    // The organizations `user_id` is a member of, oldest first.
    virtual boost::asio::awaitable<result<std::vector<records::organization_record>>> list_organizations(
        std::string user_id) = 0;
    // Sets a member's role, or removes the member when `role` is empty, unless that leaves the
    // organization without an owner (member_change::last_owner, nothing changed); checked in
    // the same transaction. not_found: no such member in that organization.
    virtual boost::asio::awaitable<result<member_change>> change_member(std::string organization_id,
                                                                       std::string member_id, std::string role) = 0;
    // The session's active organization ("" clears it); not_found: no such session.
    virtual boost::asio::awaitable<error_code> set_active_organization(std::string session_hash,
                                                                       std::string organization_id) = 0;
    virtual boost::asio::awaitable<error_code> put_invitation(records::invitation_record inv) = 0;
    // With the organization's name and slug and the inviter's email; not_found.
    virtual boost::asio::awaitable<result<records::invitation_record>> find_invitation(std::string id) = 0;
    // An organization's invitations (`organization_id` set) or an address's (`email` set),
    // newest first, with the organization's name and slug and the inviter's email.
    virtual boost::asio::awaitable<result<std::vector<records::invitation_record>>> list_invitations(
        std::string organization_id, std::string email) = 0;
    // The single-use step: pending and unexpired at `now` -> accepted (and `member` inserted,
    // in the same transaction), rejected or canceled. Of N concurrent answers exactly one gets
    // `done`. not_found: no such invitation.
    virtual boost::asio::awaitable<result<invitation_answer_result>> answer_invitation(
        std::string id, invitation_answer answer, records::member_record member, std::int64_t now) = 0;
    // ---- rate limits shared by every process on the database (issue 15: replicas)
    // Counts one attempt for `key` in the fixed window starting at `window_start` (Unix
    // seconds) and returns how many the window holds now, this one included: one atomic
    // upsert, so N replicas counting at once see N distinct counts. Older windows are purged.
    virtual boost::asio::awaitable<result<std::int64_t>> count_attempt(std::string key,
                                                                       std::int64_t window_start) = 0;
};

}  // namespace latchkey::transport::server

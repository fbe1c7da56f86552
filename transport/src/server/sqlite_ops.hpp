// The storage operations on one SQLite connection, synchronous (run on the DB thread by
// sqlite_store, directly by the admin CLI). Same contracts as store.hpp.
#pragma once

#include "sqlite_db.hpp"

#include <latchkey/transport/server/store.hpp>

namespace latchkey::transport::server::detail {

using records::client_record;
using records::code_record;
using records::refresh_record;
using records::session_record;
using records::signing_key_record;
using records::user_record;

error_code put_client(sqlite_db& db, const client_record& c);
result<client_record> find_client(sqlite_db& db, const std::string& id);
result<std::vector<client_record>> list_clients(sqlite_db& db);
error_code delete_client(sqlite_db& db, const std::string& id);
error_code update_client(sqlite_db& db, const client_record& c);
result<bool> remember_jti(sqlite_db& db, const std::string& jti_hash, std::int64_t expires_at, std::int64_t now);

// The users columns (table alias u) in user_from's order; user_from reads them from column `first`.
extern const char* const user_columns;
user_record user_from(const stmt& s, int first);
error_code put_user(sqlite_db& db, const user_record& u);
// Platform roles and bans (sqlite_users.cpp); not_found for an unknown user id.
error_code set_user_role(sqlite_db& db, const std::string& user_id, const std::string& role);
error_code ban_user(sqlite_db& db, const std::string& user_id, const std::string& reason, std::int64_t expires,
                    std::int64_t now);
error_code unban_user(sqlite_db& db, const std::string& user_id);
error_code delete_user_sessions(sqlite_db& db, const std::string& user_id);
result<user_page> page_users(sqlite_db& db, std::int64_t limit, std::int64_t offset);
result<user_record> find_user(sqlite_db& db, const std::string& username);
result<user_record> find_user_by_id(sqlite_db& db, const std::string& id);
result<std::vector<user_record>> list_users(sqlite_db& db);
error_code delete_user(sqlite_db& db, const std::string& username);
error_code update_user(sqlite_db& db, const user_record& u);

error_code put_signing_key(sqlite_db& db, const signing_key_record& k);
result<std::vector<signing_key_record>> list_signing_keys(sqlite_db& db);

error_code put_session(sqlite_db& db, const session_record& s);
result<session_record> find_session(sqlite_db& db, const std::string& token_hash, std::int64_t now);
// store::use_session in two steps, for two connections: the look-up (a read), then, when
// the sliding expiry is due, the extension (false: the session is gone meanwhile).
result<session_use_result> find_live_session(sqlite_db& db, const std::string& token_hash, std::int64_t now);
result<bool> extend_session(sqlite_db& db, const std::string& token_hash, std::int64_t now, std::int64_t ttl);
void mark_extended(session_use_result& used, std::int64_t now, std::int64_t ttl);
result<std::vector<session_record>> list_sessions(sqlite_db& db, const std::string& user_id, std::int64_t now);
result<bool> delete_session(sqlite_db& db, const std::string& token_hash, const std::string& user_id);

error_code put_code(sqlite_db& db, const code_record& c);
result<code_consume_result> consume_code(sqlite_db& db, const std::string& code_hash, std::int64_t now);

error_code put_refresh(sqlite_db& db, const refresh_record& r);
result<refresh_record> find_refresh(sqlite_db& db, const std::string& token_hash);
result<refresh_rotate_result> rotate_refresh(sqlite_db& db, const std::string& old_hash,
                                             const refresh_record& next, std::int64_t now);

result<bool> revoke_refresh(sqlite_db& db, const std::string& token_hash, const std::string& client_id,
                            std::int64_t now);
result<bool> grant_revoked(sqlite_db& db, const std::string& grant_id);

error_code put_device(sqlite_db& db, const records::device_record& d, std::int64_t max_pending);
result<records::device_record> find_pending_device(sqlite_db& db, const std::string& user_code, std::int64_t now);
result<records::device_record> answer_device(sqlite_db& db, const std::string& user_code,
                                             const std::string& user_id, bool approve, std::int64_t now,
                                             const std::string& organization_id);
result<flows::server::device_poll_decision> poll_device(sqlite_db& db, const std::string& device_code_hash,
                                                        const std::string& client_id, std::int64_t now);

result<std::string> find_consent(sqlite_db& db, const std::string& user_id, const std::string& client_id);
error_code put_consent(sqlite_db& db, const std::string& user_id, const std::string& client_id,
                       const std::string& scope, std::int64_t now);
error_code put_two_factor(sqlite_db& db, const records::two_factor_record& t,
                          const std::vector<std::string>& backup_hashes);
result<records::two_factor_record> find_two_factor(sqlite_db& db, const std::string& user_id);
error_code delete_two_factor(sqlite_db& db, const std::string& user_id);
result<bool> accept_totp_step(sqlite_db& db, const std::string& user_id, std::int64_t step, std::int64_t now);
result<records::two_factor_record> record_two_factor_failure(sqlite_db& db, const std::string& user_id,
                                                             std::int64_t now, flows::server::two_factor_lockout p);
result<bool> consume_backup_code(sqlite_db& db, const std::string& user_id, const std::string& code_hash,
                                 std::int64_t now);
error_code replace_backup_codes(sqlite_db& db, const std::string& user_id, const std::vector<std::string>& hashes);
result<std::int64_t> count_backup_codes(sqlite_db& db, const std::string& user_id);
error_code put_challenge(sqlite_db& db, const records::two_factor_challenge& c);
result<records::two_factor_challenge> find_challenge(sqlite_db& db, const std::string& token_hash, std::int64_t now);
result<bool> delete_challenge(sqlite_db& db, const std::string& token_hash);

// Social login (sqlite_social.cpp).
error_code put_social_provider(sqlite_db& db, const records::social_provider_record& p);
result<std::vector<records::social_provider_record>> list_social_providers(sqlite_db& db);
error_code delete_social_provider(sqlite_db& db, const std::string& name);
result<account_user> find_account(sqlite_db& db, const std::string& provider_id, const std::string& account_id);
result<user_record> find_user_by_email(sqlite_db& db, const std::string& email);
error_code link_account(sqlite_db& db, const records::account_record& a, const std::optional<user_record>& new_user);
// Organizations (sqlite_orgs.cpp).
error_code create_organization(sqlite_db& db, const records::organization_record& o, const records::member_record& owner);
error_code update_organization(sqlite_db& db, const records::organization_record& o);
error_code delete_organization(sqlite_db& db, const std::string& id);
result<organization_view> find_organization(sqlite_db& db, const std::string& key, bool by_slug);
result<std::vector<records::organization_record>> list_organizations(sqlite_db& db, const std::string& user_id);
result<member_change> change_member(sqlite_db& db, const std::string& org_id, const std::string& member_id,
                                    const std::string& role);
error_code set_active_organization(sqlite_db& db, const std::string& session_hash, const std::string& org_id);
error_code put_invitation(sqlite_db& db, const records::invitation_record& i);
result<records::invitation_record> find_invitation(sqlite_db& db, const std::string& id);
result<std::vector<records::invitation_record>> list_invitations(sqlite_db& db, const std::string& org_id,
                                                                 const std::string& email);
result<invitation_answer_result> answer_invitation(sqlite_db& db, const std::string& id, invitation_answer answer,
                                                   const records::member_record& member, std::int64_t now);
result<std::int64_t> count_attempt(sqlite_db& db, const std::string& key, std::int64_t window_start);

// Maps a finished step (SQLITE_DONE / constraint / other) to our errors.
error_code step_error(int rc);

}  // namespace latchkey::transport::server::detail

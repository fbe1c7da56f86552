// Organizations, members and invitations on PostgreSQL (pg_store_impl.hpp; Better Auth's
// organization plugin).
//  - answer_invitation, the single-use step: ONE conditional UPDATE (status = 'pending' AND
//    expires_at > now) picks the winner; concurrent answers wait for its row lock and then
//    match nothing. On accept the winner inserts the member with ON CONFLICT DO NOTHING (a
//    failed statement would abort the transaction) and, if the user is a member already,
//    rolls back: the invitation stays pending.
//  - change_member locks the organization's member rows (SELECT ... FOR UPDATE, in one order)
//    before counting the owners, so two concurrent demotions of the last two owners cannot
//    both pass: the second counts after the first committed.
#include "pg_store_impl.hpp"

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

#define LATCH_ORG_COLUMNS "o.id, o.name, o.slug, o.logo, o.metadata, o.created_at"
#define LATCH_MEMBER_SELECT                                                                                    \
    "SELECT m.id, m.organization_id, m.user_id, m.role, m.created_at, u.name, "                               \
    "CASE WHEN u.email = '' THEN u.username ELSE u.email END FROM members m JOIN users u ON u.id = m.user_id "
#define LATCH_INVITATION_SELECT                                                                                \
    "SELECT i.id, i.organization_id, i.email, i.role, i.status, i.inviter_id, i.expires_at, i.created_at, "    \
    "o.name, o.slug, COALESCE(CASE WHEN u.email = '' THEN u.username ELSE u.email END, '') "                   \
    "FROM invitations i JOIN organizations o ON o.id = i.organization_id LEFT JOIN users u ON u.id = i.inviter_id "

organization_record org_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.int64(5)};
}
member_record member_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.text(3), r.int64(4), r.text(5), r.text(6)};
}
invitation_record invitation_from(const pg_row& r) {
    return {r.text(0), r.text(1),  r.text(2), r.text(3), r.text(4), r.text(5),
            r.int64(6), r.int64(7), r.text(8), r.text(9), r.text(10)};
}

constexpr const char* insert_org_sql =
    "INSERT INTO organizations (id, name, slug, logo, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* insert_member_sql =
    "INSERT INTO members (id, organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5)";
constexpr const char* update_org_sql =
    "UPDATE organizations SET name = $2, slug = $3, logo = $4, metadata = $5 WHERE id = $1";
// Members and invitations go by ON DELETE CASCADE; sessions that had it active lose it.
constexpr const char* delete_org_sql =
    "WITH d AS (DELETE FROM organizations WHERE id = $1 RETURNING id), "
    "s AS (UPDATE sessions SET active_organization_id = '' WHERE active_organization_id IN (SELECT id FROM d)) "
    "SELECT COUNT(*) FROM d";
constexpr const char* find_org_by_id_sql = "SELECT " LATCH_ORG_COLUMNS " FROM organizations o WHERE o.id = $1";
constexpr const char* find_org_by_slug_sql = "SELECT " LATCH_ORG_COLUMNS " FROM organizations o WHERE o.slug = $1";
constexpr const char* members_sql =
    LATCH_MEMBER_SELECT "WHERE m.organization_id = $1 ORDER BY m.created_at, m.id COLLATE \"C\"";
constexpr const char* lock_members_sql =
    LATCH_MEMBER_SELECT "WHERE m.organization_id = $1 ORDER BY m.created_at, m.id COLLATE \"C\" FOR UPDATE OF m";
constexpr const char* list_orgs_sql =
    "SELECT " LATCH_ORG_COLUMNS " FROM organizations o JOIN members m ON m.organization_id = o.id "
    "WHERE m.user_id = $1 ORDER BY o.created_at, o.id COLLATE \"C\"";
constexpr const char* set_member_role_sql = "UPDATE members SET role = $3 WHERE id = $1 AND organization_id = $2";
// The removed member's sessions no longer have the organization active.
constexpr const char* remove_member_sql =
    "WITH d AS (DELETE FROM members WHERE id = $1 AND organization_id = $2 RETURNING user_id), "
    "s AS (UPDATE sessions SET active_organization_id = '' WHERE active_organization_id = $2 "
    "AND user_id IN (SELECT user_id FROM d)) SELECT COUNT(*) FROM d";
constexpr const char* set_active_sql = "UPDATE sessions SET active_organization_id = $2 WHERE token_hash = $1";
constexpr const char* put_invitation_sql =
    "INSERT INTO invitations (id, organization_id, email, role, status, inviter_id, expires_at, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
constexpr const char* find_invitation_sql = LATCH_INVITATION_SELECT "WHERE i.id = $1";
constexpr const char* list_invitations_sql =
    LATCH_INVITATION_SELECT "WHERE ($1::text = '' OR i.organization_id = $1) AND ($2::text = '' OR i.email = $2) "
                            "ORDER BY i.created_at DESC, i.id COLLATE \"C\"";
constexpr const char* answer_invitation_sql =
    "UPDATE invitations SET status = $2 WHERE id = $1 AND status = 'pending' AND expires_at > $3";
// Already a member: no row (the caller rolls back).
constexpr const char* accept_member_sql =
    "INSERT INTO members (id, organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (organization_id, user_id) DO NOTHING";

const char* answer_status_text(invitation_answer a) {
    return a == invitation_answer::accept ? "accepted" : a == invitation_answer::reject ? "rejected" : "canceled";
}

}  // namespace

asio::awaitable<error_code> pg_store::create_organization(organization_record o, member_record owner) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    pg_conn& c = **lease;
    if (auto ec = co_await begin(c)) co_return ec;
    const pg_params org(o.id, o.name, o.slug, o.logo, o.metadata, o.created_at);
    auto put = co_await q(c, insert_org_sql, org);
    if (!put) co_return co_await roll_back_with(c, put.error());
    const pg_params member(owner.id, owner.organization_id, owner.user_id, owner.role, owner.created_at);
    auto first = co_await q(c, insert_member_sql, member);
    if (!first) co_return co_await roll_back_with(c, first.error());
    co_return co_await commit(c);
}

asio::awaitable<error_code> pg_store::update_organization(organization_record o) {
    return changed_one(update_org_sql, pg_params(o.id, o.name, o.slug, o.logo, o.metadata));
}

asio::awaitable<error_code> pg_store::delete_organization(std::string id) {
    pg_params p(id);
    auto rows = co_await run(delete_org_sql, std::move(p));
    if (!rows) co_return rows.error();
    co_return rows->int64(0, 0) == 1 ? error_code{} : make_error_code(server_errc::not_found);
}

asio::awaitable<result<organization_view>> pg_store::find_organization(std::string key, bool by_slug) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    const pg_params k(key);
    const char* sql = by_slug ? find_org_by_slug_sql : find_org_by_id_sql;
    auto org = co_await q(**lease, sql, k);
    if (!org) co_return org.error();
    if (org->size() == 0) co_return make_error_code(server_errc::not_found);
    organization_view out;
    out.org = org_from(pg_row{*org, 0});
    const pg_params id(out.org.id);
    auto members = co_await q(**lease, members_sql, id);
    if (!members) co_return members.error();
    for (int i = 0; i < members->size(); ++i) out.members.push_back(member_from(pg_row{*members, i}));
    co_return out;
}

asio::awaitable<result<std::vector<organization_record>>> pg_store::list_organizations(std::string user_id) {
    return all<organization_record>(list_orgs_sql, pg_params(user_id), org_from);
}

asio::awaitable<result<member_change>> pg_store::change_member(std::string org_id, std::string member_id,
                                                               std::string role) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    pg_conn& c = **lease;
    if (auto ec = co_await begin(c)) co_return ec;
    const pg_params org(org_id);
    auto rows = co_await q(c, lock_members_sql, org);
    if (!rows) co_return co_await roll_back_with(c, rows.error());
    member_change out;
    std::int64_t owners = 0;
    bool found = false;
    for (int i = 0; i < rows->size(); ++i) {
        auto m = member_from(pg_row{*rows, i});
        owners += m.role == "owner";
        if (m.id == member_id) out.before = std::move(m), found = true;
    }
    const auto not_found = make_error_code(server_errc::not_found);
    if (!found) co_return co_await roll_back_with(c, not_found);
    if (out.before.role == "owner" && role != "owner" && owners <= 1) {
        out.last_owner = true;
        (void)co_await rollback(c);  // nothing changed (failing, it drops the connection)
        co_return out;
    }
    const pg_params p = role.empty() ? pg_params(member_id, org_id) : pg_params(member_id, org_id, role);
    const char* sql = role.empty() ? remove_member_sql : set_member_role_sql;
    auto changed_rows = co_await q(c, sql, p);
    if (!changed_rows) co_return co_await roll_back_with(c, changed_rows.error());
    const std::int64_t n = role.empty() ? changed_rows->int64(0, 0) : changed_rows->affected();
    if (n != 1) co_return co_await roll_back_with(c, not_found);
    if (auto ec = co_await commit(c)) co_return ec;
    co_return out;
}

asio::awaitable<error_code> pg_store::set_active_organization(std::string session_hash, std::string org_id) {
    return changed_one(set_active_sql, pg_params(session_hash, org_id));
}

asio::awaitable<error_code> pg_store::put_invitation(invitation_record i) {
    pg_params p(i.id, i.organization_id, i.email, i.role, i.status, i.inviter_id, i.expires_at, i.created_at);
    return exec(put_invitation_sql, std::move(p));
}

asio::awaitable<result<invitation_record>> pg_store::find_invitation(std::string id) {
    return one<invitation_record>(find_invitation_sql, pg_params(id), invitation_from);
}

asio::awaitable<result<std::vector<invitation_record>>> pg_store::list_invitations(std::string org_id,
                                                                                   std::string email) {
    return all<invitation_record>(list_invitations_sql, pg_params(org_id, email), invitation_from);
}

asio::awaitable<result<invitation_answer_result>> pg_store::answer_invitation(std::string id, invitation_answer answer,
                                                                              member_record member, std::int64_t now) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    pg_conn& c = **lease;
    if (auto ec = co_await begin(c)) co_return ec;
    const pg_params p(id, answer_status_text(answer), now);
    auto updated = co_await q(c, answer_invitation_sql, p);
    if (!updated) co_return co_await roll_back_with(c, updated.error());
    bool won = updated->affected() == 1;
    const pg_params by_id(id);
    auto stored = co_await q(c, find_invitation_sql, by_id);
    if (!stored) co_return co_await roll_back_with(c, stored.error());
    const auto not_found = make_error_code(server_errc::not_found);
    if (stored->size() == 0) co_return co_await roll_back_with(c, not_found);
    invitation_answer_result out;
    out.invitation = invitation_from(pg_row{*stored, 0});
    if (won && answer == invitation_answer::accept) {
        out.member = member;
        out.member.organization_id = out.invitation.organization_id;
        out.member.role = out.invitation.role;
        const pg_params m(out.member.id, out.member.organization_id, out.member.user_id, out.member.role,
                          out.member.created_at);
        auto inserted = co_await q(c, accept_member_sql, m);
        // No row, or another constraint (as SQLite reports any): a member already; the
        // invitation stays pending.
        if (!inserted && inserted.error() != server_errc::already_exists)
            co_return co_await roll_back_with(c, inserted.error());
        if (!inserted || inserted->affected() != 1) {
            out.status = answer_status::already_member;
            won = false;
        }
    }
    if (!won) {  // not_pending or already_member: rolled back, nothing written
        (void)co_await rollback(c);  // failing, it drops the connection: rolled back all the same
        co_return out;
    }
    if (auto ec = co_await commit(c)) co_return ec;
    out.status = answer_status::done;
    co_return out;
}

}  // namespace latchkey::transport::server::detail

// latch-idp organizations (migration 10) on both adapters (support/store_backends.hpp): create
// with its owner (slug unique), the invitation's single-use answer (32 concurrent accepts from
// two stores on one database -> one member row; expired, already a member), change_member
// keeping an owner, the session's active organization and what deleting the organization
// takes with it.
#include "support/lifecycle_run.hpp"
#include "support/store_backends.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::hash_token;
using latchkey::flows::server::server_errc;
namespace records = latchkey::flows::server;

namespace {

constexpr std::int64_t t0 = 1'000'000;

asio::awaitable<void> accept_once(store& st, std::string id, records::member_record m, int& done, int& refused) {
    auto r = co_await st.answer_invitation(std::move(id), invitation_answer::accept, std::move(m), t0 + 10);
    if (r && r->status == answer_status::done) ++done;
    else ++refused;
}

}  // namespace

TEST_CASE("store: organizations, single-use invitations, an owner always remains",
          "[component][server][store][organization]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto opened = db.open();
    auto replica = db.open();  // a second store on the database, as another process would have
    auto& st = *opened;
    const std::string session = hash_token("s2"), org_id = "org1", inv_id = "inv1", old_id = "inv-old";
    const records::organization_record org{org_id, "Acme", "acme", "", "{\"plan\":\"pro\"}", t0};
    const records::member_record owner{"m1", org_id, "u1", "owner", t0};
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        for (const std::string id : {"u1", "u2", "u3"}) {
            records::user_record u{id, id + "@example.com", "h", t0, "", id + "@example.com"};
            auto e = co_await st.put_user(u);
            REQUIRE_FALSE(e);
        }
        records::session_record s{session, "u2", "127.0.0.1", "ua", t0, t0, t0 + 86400};
        auto e = co_await st.put_session(s);
        REQUIRE_FALSE(e);
        e = co_await st.create_organization(org, owner);
        REQUIRE_FALSE(e);
        records::organization_record same_slug = org;
        same_slug.id = "org2";
        records::member_record other_owner{"m9", "org2", "u3", "owner", t0};
        e = co_await st.create_organization(same_slug, other_owner);
        CHECK(e == server_errc::already_exists);
        const std::string slug = "acme";
        auto found = co_await st.find_organization(slug, true);
        REQUIRE(found.has_value());
        CHECK(found->org.metadata == "{\"plan\":\"pro\"}");
        REQUIRE(found->members.size() == 1);
        CHECK(found->members[0].user_email == "u1@example.com");
        records::invitation_record inv{inv_id, org_id, "u2@example.com", "member", "pending", "u1", t0 + 3600, t0};
        e = co_await st.put_invitation(inv);
        REQUIRE_FALSE(e);
        records::invitation_record old{old_id, org_id, "u3@example.com", "admin", "pending", "u1", t0 + 5, t0};
        e = co_await st.put_invitation(old);
        REQUIRE_FALSE(e);
        co_return true;
    }());

    // 32 concurrent accepts of one invitation (half on each store): one wins, one member row.
    int done = 0, refused = 0;
    for (int i = 0; i < 32; ++i) {
        records::member_record m{"new" + std::to_string(i), "", "u2", "", t0 + 10};
        store& on = i % 2 ? *replica : st;
        asio::co_spawn(io, accept_once(on, inv_id, m, done, refused), asio::detached);
    }
    io.restart();
    io.run();
    CHECK(done == 1);
    CHECK(refused == 31);

    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        auto view = co_await st.find_organization(org_id, false);
        REQUIRE(view.has_value());
        REQUIRE(view->members.size() == 2);
        CHECK(view->members[1].user_id == "u2");
        CHECK(view->members[1].role == "member");
        auto stored = co_await st.find_invitation(inv_id);
        REQUIRE(stored.has_value());
        CHECK(stored->status == "accepted");
        CHECK(stored->organization_name == "Acme");
        CHECK(stored->inviter_email == "u1@example.com");
        // Expired: not answered, nothing written.
        records::member_record m3{"m3", "", "u3", "", t0 + 10};
        auto late = co_await st.answer_invitation(old_id, invitation_answer::accept, m3, t0 + 10);
        REQUIRE(late.has_value());
        CHECK(late->status == answer_status::not_pending);
        CHECK(late->invitation.status == "pending");
        // Already a member: refused, the invitation stays pending.
        records::invitation_record again{"inv2", org_id, "u2@example.com", "admin", "pending", "u1", t0 + 3600, t0};
        auto e = co_await st.put_invitation(again);
        REQUIRE_FALSE(e);
        records::member_record m2{"m2b", "", "u2", "", t0 + 10};
        const std::string again_id = "inv2";
        auto dup = co_await st.answer_invitation(again_id, invitation_answer::accept, m2, t0 + 10);
        REQUIRE(dup.has_value());
        CHECK(dup->status == answer_status::already_member);
        auto still = co_await st.find_invitation(again_id);
        CHECK(still->status == "pending");
        const std::string unknown = "nope";
        auto none = co_await st.answer_invitation(unknown, invitation_answer::reject, m2, t0 + 10);
        CHECK(none.error() == server_errc::not_found);
        co_return true;
    }());

    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        const std::string m1 = "m1", admin = "admin", owner_role = "owner", none, nobody = "nobody";
        auto last = co_await st.change_member(org_id, m1, admin);
        REQUIRE(last.has_value());
        CHECK(last->last_owner);
        auto removed_last = co_await st.change_member(org_id, m1, none);
        CHECK(removed_last->last_owner);
        auto view = co_await st.find_organization(org_id, false);
        const std::string bob_member = view->members[1].id;
        auto promoted = co_await st.change_member(org_id, bob_member, owner_role);
        REQUIRE(promoted.has_value());
        CHECK_FALSE(promoted->last_owner);
        auto demoted = co_await st.change_member(org_id, m1, admin);
        CHECK_FALSE(demoted->last_owner);
        CHECK(demoted->before.role == "owner");
        auto missing = co_await st.change_member(org_id, nobody, admin);
        CHECK(missing.error() == server_errc::not_found);

        auto e = co_await st.set_active_organization(session, org_id);
        REQUIRE_FALSE(e);
        auto used = co_await st.use_session(session, t0 + 20, 86400, 86400);
        REQUIRE(used.has_value());
        CHECK(used->session.active_organization_id == org_id);
        const std::string no_session = hash_token("none");
        e = co_await st.set_active_organization(no_session, org_id);
        CHECK(e == server_errc::not_found);
        const std::string u2 = "u2";
        auto listed = co_await st.list_organizations(u2);
        REQUIRE(listed.has_value());
        CHECK(listed->size() == 1);

        e = co_await st.delete_organization(org_id);
        REQUIRE_FALSE(e);
        auto after = co_await st.use_session(session, t0 + 21, 86400, 86400);
        CHECK(after->session.active_organization_id.empty());
        auto gone = co_await st.find_invitation(inv_id);
        CHECK(gone.error() == server_errc::not_found);
        auto orgs = co_await st.list_organizations(u2);
        CHECK(orgs->empty());
        co_return true;
    }());
}

namespace {

asio::awaitable<void> demote(store& st, std::string member_id, int& changed, int& last_owner) {
    const std::string org_id = "org1", admin = "admin";
    auto r = co_await st.change_member(org_id, std::move(member_id), admin);
    REQUIRE(r.has_value());
    if (r->last_owner) ++last_owner;
    else ++changed;
}

}  // namespace

TEST_CASE("store: two owners demoted at once from two stores, one owner remains",
          "[component][server][store][organization]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto a = db.open();
    auto b = db.open();
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        for (const std::string id : {"u1", "u2"}) {
            records::user_record u{id, id + "@example.com", "h", t0, "", id + "@example.com"};
            auto e = co_await a->put_user(u);
            REQUIRE_FALSE(e);
        }
        const records::organization_record org{"org1", "Acme", "acme", "", "", t0};
        const records::member_record first{"m1", "org1", "u1", "owner", t0};
        auto e = co_await a->create_organization(org, first);
        REQUIRE_FALSE(e);
        records::invitation_record inv{"inv1", "org1", "u2@example.com", "owner", "pending", "u1", t0 + 3600, t0};
        e = co_await a->put_invitation(inv);
        REQUIRE_FALSE(e);
        const std::string inv_id = "inv1";
        records::member_record second{"m2", "", "u2", "", t0 + 1};
        auto joined = co_await b->answer_invitation(inv_id, invitation_answer::accept, second, t0 + 1);
        REQUIRE(joined.has_value());
        CHECK(joined->status == answer_status::done);
        CHECK(joined->member.role == "owner");
        co_return true;
    }());
    int changed = 0, last_owner = 0;
    asio::co_spawn(io, demote(*a, "m1", changed, last_owner), asio::detached);
    asio::co_spawn(io, demote(*b, "m2", changed, last_owner), asio::detached);
    io.restart();
    io.run();
    CHECK(changed == 1);
    CHECK(last_owner == 1);
    CHECK(db.scalar("SELECT COUNT(*) FROM members WHERE role = 'owner'") == "1");
}

TEST_CASE("store: the organization travels with sessions, codes, device approvals and refresh rotation",
          "[component][server][store][organization]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto opened = db.open();
    auto& st = *opened;
    const std::string session = hash_token("s"), code = hash_token("c"), old_rt = hash_token("r1");
    const std::string new_rt = hash_token("r2"), device = hash_token("d"), user_code = "ABCDEFGH", u1 = "u1";
    const std::string org = "org1", cli = "cli";
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        records::user_record u{"u1", "ann", "h", t0};
        auto e = co_await st.put_user(u);
        REQUIRE_FALSE(e);
        records::session_record s{session, "u1", "127.0.0.1", "ua", t0, t0, t0 + 86400, org};
        e = co_await st.put_session(s);
        REQUIRE_FALSE(e);
        auto found = co_await st.find_session(session, t0 + 1);
        REQUIRE(found.has_value());
        CHECK(found->active_organization_id == org);
        auto listed = co_await st.list_sessions(u1, t0 + 1);
        REQUIRE(listed.has_value());
        REQUIRE(listed->size() == 1);
        CHECK((*listed)[0].active_organization_id == org);
        auto used = co_await st.use_session(session, t0 + 1, 0, 86400);  // extended, still with it
        REQUIRE(used.has_value());
        CHECK(used->extended);
        CHECK(used->session.active_organization_id == org);
        CHECK(used->user.username == "ann");

        records::code_record c{code, "g1", cli, "u1", "http://127.0.0.1/cb", "openid", "", "", t0 + 60, 0, org};
        e = co_await st.put_code(c);
        REQUIRE_FALSE(e);
        auto consumed = co_await st.consume_code(code, t0 + 1);
        REQUIRE(consumed.has_value());
        CHECK(consumed->status == consume_status::consumed);
        CHECK(consumed->code.organization_id == org);
        auto replayed = co_await st.consume_code(code, t0 + 2);
        REQUIRE(replayed.has_value());
        CHECK(replayed->status == consume_status::replayed);
        CHECK(replayed->code.organization_id == org);

        records::device_record d{device, user_code, cli, "openid", "pending", "", "127.0.0.1", "ua", t0, t0 + 600, 5, 0};
        e = co_await st.put_device(d, 100);
        REQUIRE_FALSE(e);
        auto approved = co_await st.answer_device(user_code, u1, true, t0 + 1, org);
        REQUIRE(approved.has_value());
        CHECK(approved->organization_id == org);
        CHECK(approved->user_id == "u1");
        auto poll = co_await st.poll_device(device, cli, t0 + 10);
        REQUIRE(poll.has_value());
        CHECK(poll->outcome == flows::server::device_poll_outcome::issue);
        CHECK(poll->updated.organization_id == org);

        records::refresh_record r{old_rt, "fam", cli, "u1", "openid", t0 + 3600, 0, 0, org};
        e = co_await st.put_refresh(r);
        REQUIRE_FALSE(e);
        records::refresh_record next{new_rt, "", cli, "", "", t0 + 7200};
        auto rotated = co_await st.rotate_refresh(old_rt, next, t0 + 5);
        REQUIRE(rotated.has_value());
        CHECK(rotated->status == consume_status::consumed);
        CHECK(rotated->old_token.organization_id == org);
        auto successor = co_await st.find_refresh(new_rt);
        REQUIRE(successor.has_value());
        CHECK(successor->organization_id == org);
        CHECK(successor->family_id == "fam");
        CHECK(successor->user_id == "u1");
        CHECK(successor->expires_at == t0 + 7200);
        co_return true;
    }());
}

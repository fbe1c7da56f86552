// `latch machine list|rm|rotate`: what the IdP still knows (RFC 7592 §2.1 read), deleting
// a machine there and here (§2.3), and giving it a new key (§2.2 update). The protocol is
// transport::machine_identities; this file words its outcomes.
#include "app.hpp"
#include "machine_common.hpp"

#include <cstdio>

namespace latchkey::cli {
namespace asio = boost::asio;
using transport::machine_step;

namespace {

// What the IdP still knows about `m`, as one word and a detail.
std::string remote_state_text(const transport::machine_remote_state& st) {
    using kind = transport::machine_remote_state::kind;
    switch (st.what) {
    case kind::registered: return "registered";
    case kind::different_key: return "registered\t(with a different key)";
    case kind::not_registered: return "not-registered\t(the identity provider does not know it)";
    case kind::no_token: return "unknown\t(no registration access token)";
    case kind::unknown: break;
    }
    return "unknown\t(" + describe(st.ec, st.diag) + ")";
}

// Finds the record by id or name, printing what is wrong.
std::optional<machine_record> find_or_report(app& a, const std::string& id) {
    diagnostics diag;
    auto m = machine_store(a.store.home()).find(id, diag);
    if (!m) { print_error(describe(m.error(), diag)); return std::nullopt; }
    if (!*m) print_error("no machine '" + id + "' registered from here; see `latch machine list`");
    return std::move(*m);
}

// What to say when `latch machine rotate` failed, by the step it stopped at.
std::string rotate_failure(const transport::machine_rotated& r, const diagnostics& diag) {
    const auto& id = r.record.machine_id;
    switch (r.step) {
    case machine_step::idp_silent:
        return "rotating the key of machine " + id + " failed without an answer from the identity "
               "provider (" + describe(r.ec, diag) + "); it may or may not have accepted the new key, "
               "so both were kept: old " + r.key_file.string() + ", new " + r.pending_file.string() +
               ". Check with `latch machine list --remote`, then run `latch machine rotate` again";
    case machine_step::idp_refused:
        return "the key of machine " + id + " was not rotated: " + describe(r.ec, diag) +
               "; the old key " + r.key_file.string() + " still works and was kept";
    case machine_step::store:
        return "the identity provider took the new key of machine " + id +
               " but it could not be stored here (" + describe(r.ec, diag) + "); the new key is in " +
               r.new_key_file.string();
    default:
        return describe(r.ec, diag);
    }
}

}  // namespace

asio::awaitable<int> machine_list(app& a, machine_options o) {
    diagnostics diag;
    auto machines = machines_of(a);
    auto all = machines.store().list(diag);
    if (!all) { print_error(describe(all.error(), diag)); co_return 1; }
    if (all->empty()) {
        std::fprintf(stderr, "No machines registered from here; add one with `latch machine add`\n");
        co_return 0;
    }
    for (const auto& m : *all) {
        std::string line = escape_untrusted(m.machine_id, 128) + "\t" + escape_untrusted(m.name, 80) +
                           "\t" + m.issuer + "\t" + m.key_type + "\t" + format_time(m.created_at);
        if (o.remote) {
            const auto st = co_await machines.async_remote_state(m);  // named (GCC 12 temporaries)
            line += "\t" + remote_state_text(st);
        }
        std::printf("%s\n", line.c_str());
    }
    co_return 0;
}

asio::awaitable<int> machine_rm(app& a, machine_options o) {
    auto m = find_or_report(a, o.id);
    if (!m) co_return 1;
    auto machines = machines_of(a);
    const auto key = machines.store().key_path(m->machine_id).string();
    diagnostics diag;
    auto out = co_await machines.async_remove(*m, o.local_only, diag);
    if (out.ec && out.step != machine_step::store) {
        print_error("machine " + m->machine_id + " was not deleted at " + m->issuer + ": " +
                    describe(out.ec, diag) + "; the local key " + key + " was kept (if the identity "
                    "provider no longer has it, run `latch machine rm --local-only " +
                    (m->machine_id.front() == '-' ? "-- " : "") + m->machine_id + "`)");
        co_return 1;
    }
    if (out.ec) { print_error(describe(out.ec, diag)); co_return 1; }
    std::fprintf(stderr, "Removed machine '%s' (%s): %s and removed its local key %s.\n",
                 escape_untrusted(m->name, 80).c_str(), escape_untrusted(m->machine_id, 128).c_str(),
                 o.local_only ? "left the identity provider untouched"
                              : ("deleted it at " + m->issuer + " (tokens it already has stay valid until they expire)").c_str(),
                 key.c_str());
    co_return 0;
}

asio::awaitable<int> machine_rotate(app& a, machine_options o) {
    auto m = find_or_report(a, o.id);
    if (!m) co_return 1;
    transport::machine_rotate_params p;
    if (o.rotate_key_type_given || m->key_type.empty()) p.key_type = o.key_type;
    p.key_copy = o.key_out;
    diagnostics diag;
    auto machines = machines_of(a);
    auto out = co_await machines.async_rotate(std::move(*m), std::move(p), diag);
    if (out.ec) { print_error(rotate_failure(out, diag)); co_return 1; }
    std::fprintf(stderr, "Rotated the key of machine '%s' (%s): the identity provider accepted the new %s key; "
                 "the old key no longer works and was removed.%s\n",
                 escape_untrusted(out.record.name, 80).c_str(), escape_untrusted(out.record.machine_id, 128).c_str(),
                 out.key_description.c_str(),
                 o.key_out.empty() ? "" : (" Key copy for transfer: " + o.key_out + " (update the CI secret LATCH_MACHINE_KEY).").c_str());
    co_return 0;
}

}  // namespace latchkey::cli

// `latch machine list|rm|rotate`: what the IdP still knows (RFC 7592 §2.1 read), deleting
// a machine there and here (§2.3), and giving it a new key (§2.2 update).
#include "app.hpp"
#include "machine_common.hpp"

#include <latchkey/core/registration.hpp>
#include <latchkey/core/store.hpp>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// RFC 7592 §2.1 read: what the IdP still knows about `m`, as one word and a detail.
asio::awaitable<std::string> async_remote_state(app& a, const machine_record& m) {
    if (m.registration_access_token.empty() || m.registration_client_uri.empty())
        co_return "unknown\t(no registration access token)";
    error_code ec;
    diagnostics diag;
    auto resp = co_await a.http.async_send(make_registration_read(m.registration_client_uri, m.registration_access_token), ec, diag);
    auto reg = ec ? result<client_registration>(ec) : parse_registration_response(resp, diag);
    if (reg) {
        const bool key_ok = std::find(reg->kids.begin(), reg->kids.end(), m.kid) != reg->kids.end();
        co_return std::string("registered") + (reg->kids.empty() || key_ok ? "" : "\t(with a different key)");
    }
    if (reg.error() == oauth_errc::invalid_token) co_return "not-registered\t(the identity provider does not know it)";
    co_return "unknown\t(" + describe(reg.error(), diag) + ")";
}

}  // namespace

asio::awaitable<int> machine_list(app& a, machine_options o) {

    diagnostics diag;
    auto all = machine_store(a.store.home()).list(diag);
    if (!all) { print_error(describe(all.error(), diag)); co_return 1; }
    if (all->empty()) {
        std::fprintf(stderr, "No machines registered from here; add one with `latch machine add`\n");
        co_return 0;
    }
    for (const auto& m : *all) {
        std::string line = escape_untrusted(m.machine_id, 128) + "\t" + escape_untrusted(m.name, 80) +
                           "\t" + m.issuer + "\t" + m.key_type + "\t" + format_time(m.created_at);
        if (o.remote) line += "\t" + co_await async_remote_state(a, m);
        std::printf("%s\n", line.c_str());
    }
    co_return 0;
}

// Finds the record by id or name, printing what is wrong.
static std::optional<machine_record> find_or_report(app& a, const std::string& id) {
    diagnostics diag;
    auto m = machine_store(a.store.home()).find(id, diag);
    if (!m) { print_error(describe(m.error(), diag)); return std::nullopt; }
    if (!*m) print_error("no machine '" + id + "' registered from here; see `latch machine list`");
    return std::move(*m);
}

asio::awaitable<int> machine_rm(app& a, machine_options o) {
    auto m = find_or_report(a, o.id);
    if (!m) co_return 1;
    machine_store ms(a.store.home());
    const auto key = ms.key_path(m->machine_id).string();
    diagnostics diag;
    if (!o.local_only) {
        error_code ec;
        if (m->registration_access_token.empty() || m->registration_client_uri.empty()) {
            diag.client_message = "there is no registration access token for it (RFC 7592)";
            ec = client_errc::config_missing;
        } else {
            auto resp = co_await a.http.async_send(make_registration_delete(m->registration_client_uri, m->registration_access_token), ec, diag);
            if (!ec) ec = parse_deletion_response(resp, diag);
        }
        if (ec) {
            print_error("machine " + m->machine_id + " was not deleted at " + m->issuer + ": " +
                        describe(ec, diag) + "; the local key " + key + " was kept (if the identity "
                        "provider no longer has it, run `latch machine rm --local-only " +
                        (m->machine_id.front() == '-' ? "-- " : "") + m->machine_id + "`)");
            co_return 1;
        }
    }
    auto removed = ms.remove(m->machine_id, diag);
    if (!removed) { print_error(describe(removed.error(), diag)); co_return 1; }
    std::fprintf(stderr, "Removed machine '%s' (%s): %s and removed its local key %s.\n",
                 escape_untrusted(m->name, 80).c_str(), escape_untrusted(m->machine_id, 128).c_str(),
                 o.local_only ? "left the identity provider untouched"
                              : ("deleted it at " + m->issuer + " (tokens it already has stay valid until they expire)").c_str(),
                 key.c_str());
    co_return 0;
}

// Records the accepted key: the pending file replaces the old key, the record follows.
static bool store_rotated(app& a, machine_record& m, const new_key& k, const std::string& type,
                   const client_registration& reg, const fs::path& pending) {
    machine_store ms(a.store.home());
    diagnostics diag;
    const auto key_path = ms.key_path(m.machine_id);
    std::error_code sec;
    fs::rename(pending, key_path, sec);
    m.key_type = type;
    m.kid = k.kid;
    m.key_created_at = a.clock.now();
    if (!reg.registration_access_token.empty()) m.registration_access_token = reg.registration_access_token;
    if (!reg.registration_client_uri.empty()) m.registration_client_uri = reg.registration_client_uri;
    if (sec || ms.save(m, diag)) {
        print_error("the identity provider took the new key of machine " + m.machine_id +
                    " but it could not be stored here (" + (sec ? sec.message() : diag.to_string()) +
                    "); the new key is in " + (sec ? pending : key_path).string());
        return false;
    }
    return true;
}

asio::awaitable<int> machine_rotate(app& a, machine_options o) {
    auto m = find_or_report(a, o.id);
    if (!m) co_return 1;
    if (m->registration_access_token.empty() || m->registration_client_uri.empty()) {
        print_error("machine " + m->machine_id + " cannot be rotated: the identity provider gave no "
                    "registration access token (RFC 7592) for it");
        co_return 1;
    }
    const std::string type = o.rotate_key_type_given || m->key_type.empty() ? o.key_type : m->key_type;
    machine_metadata md;  // RFC 7592 §2.2: the full metadata again, with the new jwks
    md.client_id = m->machine_id;
    md.client_name = m->name;
    auto k = make_machine_key(type, md);
    if (!k) { print_error("cannot generate a " + type + " key with OpenSSL"); co_return 1; }

    // The new key is on disk before the IdP hears of it, so a crash after the update
    // cannot lose the only key that works; the old one goes only once the IdP accepted.
    diagnostics diag;
    const auto key_path = machine_store(a.store.home()).key_path(m->machine_id);
    const fs::path pending = key_path.string() + ".new";
    if (auto ec = write_file_atomic(pending, k->pem.reveal(), 0600, diag)) { print_error(describe(ec, diag)); co_return 1; }
    error_code ec;
    auto resp = co_await a.http.async_send(make_registration_update(m->registration_client_uri, k->body, m->registration_access_token), ec, diag);
    auto reg = ec ? result<client_registration>(ec) : parse_registration_response(resp, diag);
    if (reg && !reg->kids.empty() && std::find(reg->kids.begin(), reg->kids.end(), k->kid) == reg->kids.end()) {
        diag.client_message = "the identity provider answered the update without the new key";
        reg = client_errc::missing_field;
    }
    if (!reg && ec) {
        // The request may have reached the IdP and the answer been lost: either key may be
        // the registered one now, so both are kept.
        print_error("rotating the key of machine " + m->machine_id + " failed without an answer from the "
                    "identity provider (" + describe(ec, diag) + "); it may or may not have accepted the new key, "
                    "so both were kept: old " + key_path.string() + ", new " + pending.string() +
                    ". Check with `latch machine list --remote`, then run `latch machine rotate` again");
        co_return 1;
    }
    if (!reg) {
        ::unlink(pending.c_str());
        print_error("the key of machine " + m->machine_id + " was not rotated: " + describe(reg.error(), diag) +
                    "; the old key " + key_path.string() + " still works and was kept");
        co_return 1;
    }
    if (!store_rotated(a, *m, *k, type, *reg, pending)) co_return 1;
    if (!o.key_out.empty())
        if (auto kec = write_key_copy(o.key_out, k->pem, diag)) { print_error(describe(kec, diag)); co_return 1; }
    std::fprintf(stderr, "Rotated the key of machine '%s' (%s): the identity provider accepted the new %s key; "
                 "the old key no longer works and was removed.%s\n",
                 escape_untrusted(m->name, 80).c_str(), escape_untrusted(m->machine_id, 128).c_str(),
                 describe_key(k->key.get()).c_str(),
                 o.key_out.empty() ? "" : (" Key copy for transfer: " + o.key_out + " (update the CI secret LATCH_MACHINE_KEY).").c_str());
    co_return 0;
}

}  // namespace latchkey::cli

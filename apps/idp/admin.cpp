// latch-idp user/client administration: one synchronous store operation each.
#include "idp.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/core/secret.hpp>
#include <latchkey/flows/server/redirect_uri.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/sealed.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/transport/server/password_hasher.hpp>
#include <latchkey/transport/server/pg_store.hpp>
#include <latchkey/transport/server/sqlite_store.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

namespace latchkey::idp {

using flows::server::server_errc;

int fail(const std::string& message) {
    std::fprintf(stderr, "%s\n", escape_untrusted(message, 500).c_str());
    return 1;
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

// postgresql://user:PASSWORD@host/db or ...?password=...
bool uri_has_password(const std::string& uri) {
    const auto scheme = uri.find("://");
    const auto at = uri.find('@');
    const auto slash = uri.find('/', scheme + 3);
    const bool in_userinfo = at != std::string::npos && (slash == std::string::npos || at < slash) &&
                             uri.find(':', scheme + 3) < at;
    return in_userinfo || uri.find("password=") != std::string::npos;
}

}  // namespace

result<std::unique_ptr<ts::store>> open_store(const store_location& at, diagnostics& diag) {
    if (!at.database.empty()) {
        if (!ts::is_pg_uri(at.database)) {
            diag.client_message = "--database wants a postgresql:// URI (without it the data directory holds SQLite)";
            return make_error_code(server_errc::bad_config);
        }
        if (uri_has_password(at.database))
            std::fprintf(stderr, "latch-idp: warning: the --database URI holds a password, which other local users "
                                 "can read on the command line: put it in ~/.pgpass, $PGPASSFILE or $PGPASSWORD\n");
        ts::pg_options o;
        o.pool_size = at.pool;
        return ts::open_pg_store(at.database, diag, o);
    }
    if (at.data.empty()) {
        diag.client_message = "--data DIR (or --database postgresql://...) is required";
        return make_error_code(server_errc::bad_config);
    }
    if (::mkdir(at.data.c_str(), 0700) != 0 && errno != EEXIST) {
        diag.client_message = "cannot create the data directory " + at.data + ": " + std::strerror(errno);
        return make_error_code(server_errc::storage_failed);
    }
    return ts::open_sqlite_store(at.data + "/idp.db", diag);
}

result<std::string> load_or_create_sealing_key(const std::string& dir, diagnostics& diag, const std::string& key_file) {
    const std::string path = key_file.empty() ? dir + "/secret.key" : key_file;
    const auto fail_with = [&](const std::string& why) {
        diag.client_message = path + ": " + why;
        return make_error_code(server_errc::storage_failed);
    };
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && key_file.empty()) {
        const std::string key = random_bytes(flows::server::sealing_key_size);
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return fail_with(std::string("cannot create: ") + std::strerror(errno));
        const bool written = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!written) return fail_with("cannot write the new key");
        return key;
    }
    if (fd < 0) return fail_with(std::strerror(errno));
    struct stat sb {};
    std::string key(flows::server::sealing_key_size + 1, '\0');
    const bool stat_ok = ::fstat(fd, &sb) == 0;
    const auto got = ::read(fd, key.data(), key.size());
    ::close(fd);
    if (!stat_ok || (sb.st_mode & 077) != 0) return fail_with("readable by others; run chmod 600 on it");
    if (got != static_cast<ssize_t>(flows::server::sealing_key_size)) return fail_with("not a 32-byte key");
    key.resize(flows::server::sealing_key_size);
    return key;
}

// The records' store (SQLite in DATA or PostgreSQL), or exit 1 with the reason.
std::unique_ptr<ts::store> open_or_exit(const store_location& at) {
    diagnostics diag;
    auto st = open_store(at, diag);
    if (!st) {
        fail("latch-idp: " + diag.client_message);
        std::exit(1);
    }
    return std::move(*st);
}

// The password: first line of --password-file, else $LATCH_IDP_PASSWORD. Never argv.
std::optional<secret> read_password(const std::string& file) {
    std::string pw;
    if (!file.empty()) {
        std::ifstream in(file);
        if (!in || !std::getline(in, pw)) return std::nullopt;
    } else if (const char* env = std::getenv("LATCH_IDP_PASSWORD")) {
        pw = env;
    }
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    if (pw.empty()) return std::nullopt;
    return secret(std::move(pw));
}

namespace {

const char* known_grants[] = {"authorization_code", "refresh_token", "client_credentials",
                              "urn:ietf:params:oauth:grant-type:device_code", "password"};

bool known_grant(const std::string& g) {
    for (auto* k : known_grants)
        if (g == k) return true;
    return false;
}

}  // namespace

int user_add(const user_add_options& o) {
    if (o.username.empty() || o.username.size() > 128) return fail("latch-idp: the user name must have 1 to 128 characters");
    for (unsigned char ch : o.username)
        if (ch <= 0x20 || ch == 0x7f) return fail("latch-idp: the user name may not contain spaces or control characters");
    auto pw = read_password(o.password_file);
    if (!pw) return fail("latch-idp: no password: set LATCH_IDP_PASSWORD or pass --password-file");
    if (pw->reveal().size() < 8) return fail("latch-idp: the password must have at least 8 characters");
    auto st = open_or_exit(o.at);
    auto hash = ts::hash_password(*pw);
    if (!hash) return fail("latch-idp: cannot hash the password");
    for (unsigned char ch : o.id + o.email + o.name)
        if (ch < 0x20 || ch == 0x7f) return fail("latch-idp: --id, --email and --name may not contain control characters");
    if (o.id.size() > 255) return fail("latch-idp: --id has at most 255 characters");
    if (!flows::server::valid_role(o.role))
        return fail("latch-idp: unknown role '" + o.role + "' (user, admin or platform-admin; several joined by ',')");
    flows::server::user_record u{o.id.empty() ? random_urlsafe(16) : o.id, o.username, *hash, unix_now(), o.name,
                                 o.email, o.role};
    auto ec = await_sync(st->put_user(u));
    if (ec == server_errc::already_exists) return fail("latch-idp: user '" + o.username + "' already exists");
    if (ec) return fail("latch-idp: cannot add the user: " + ec.message());
    std::cout << "added user " << o.username << " (id " << u.id << ")\n";
    return 0;
}

int user_list(const store_location& at) {
    auto st = open_or_exit(at);
    auto users = await_sync(st->list_users());
    if (!users) return fail("latch-idp: cannot list users: " + users.error().message());
    for (const auto& u : *users) std::cout << u.username << "\t" << u.id << "\n";
    return 0;
}

int user_rm(const store_location& at, const std::string& username) {
    auto st = open_or_exit(at);
    auto ec = await_sync(st->delete_user(username));
    if (ec == server_errc::not_found) return fail("latch-idp: no user '" + username + "'");
    if (ec) return fail("latch-idp: cannot remove the user: " + ec.message());
    std::cout << "removed user " << username << "\n";
    return 0;
}

int user_set_role(const store_location& at, const std::string& username, const std::string& role) {
    if (!flows::server::valid_role(role))
        return fail("latch-idp: unknown role '" + role + "' (user, admin or platform-admin; several joined by ',')");
    auto st = open_or_exit(at);
    auto user = await_sync(st->find_user(username));
    if (!user && user.error() == server_errc::not_found) return fail("latch-idp: no user '" + username + "'");
    if (!user) return fail("latch-idp: cannot read the user: " + user.error().message());
    if (auto ec = await_sync(st->set_user_role(user->id, role)))
        return fail("latch-idp: cannot set the role: " + ec.message());
    std::cout << "user " << username << " now has role " << role << "\n";
    return 0;
}

int client_add(const client_add_options& o) {
    for (unsigned char ch : o.client_id)
        if (ch <= 0x20 || ch >= 0x7f || ch == ':') return fail("latch-idp: the client id must be printable ASCII without spaces or ':'");
    flows::server::client_record c;
    c.client_id = o.client_id;
    c.name = o.name.empty() ? o.client_id : o.name;
    c.scope = o.scope;
    c.redirect_uris = o.redirect_uris;
    c.created_at = unix_now();
    c.skip_consent = o.skip_consent;
    c.post_logout_redirect_uris = o.post_logout_redirect_uris;
    c.grant_types = o.grants;
    if (c.grant_types.empty())
        c.grant_types = o.confidential ? std::vector<std::string>{"client_credentials"}
                                       : std::vector<std::string>{"authorization_code", "refresh_token"};
    for (const auto& g : c.grant_types)
        if (!known_grant(g)) return fail("latch-idp: unknown grant type '" + g + "'");
    for (const auto& u : c.redirect_uris)
        if (!flows::server::registrable_redirect_uri(u))
            return fail("latch-idp: redirect URI '" + u + "' is not allowed (https, http on 127.0.0.1/[::1], "
                        "or a private-use scheme like com.example.app:/cb; no fragment)");
    for (const auto& u : c.post_logout_redirect_uris)
        if (!flows::server::registrable_redirect_uri(u))
            return fail("latch-idp: post-logout redirect URI '" + u + "' is not allowed (https, http on 127.0.0.1/[::1], "
                        "or a private-use scheme; no fragment)");
    secret client_secret;
    if (!o.secret_file.empty() && !o.confidential) return fail("latch-idp: --secret-file is for --confidential clients");
    if (o.confidential) {
        auto given = o.secret_file.empty() ? std::optional<secret>(flows::server::make_opaque_token())
                                           : read_password(o.secret_file);
        if (!given) return fail("latch-idp: cannot read a secret from --secret-file (first line, not empty)");
        client_secret = std::move(*given);
        c.auth_method = "client_secret_basic";
        c.secret_hash = flows::server::hash_token(client_secret.reveal());
    }
    auto st = open_or_exit(o.at);
    auto ec = await_sync(st->put_client(c));
    if (ec == server_errc::already_exists) return fail("latch-idp: client '" + o.client_id + "' already exists");
    if (ec) return fail("latch-idp: cannot add the client: " + ec.message());
    std::cerr << "added " << (o.confidential ? "confidential" : "public") << " client " << c.client_id << "\n";
    // The only time the secret exists outside the caller's hands: stdout, once, alone on
    // its line so scripts can capture it.
    if (o.confidential && o.secret_file.empty()) std::cout << client_secret.reveal() << std::endl;
    return 0;
}

int client_list(const store_location& at) {
    auto st = open_or_exit(at);
    auto clients = await_sync(st->list_clients());
    if (!clients) return fail("latch-idp: cannot list clients: " + clients.error().message());
    for (const auto& c : *clients) {
        std::cout << c.client_id << "\t" << (c.is_public() ? "public" : "confidential") << "\tgrants:";
        for (const auto& g : c.grant_types) std::cout << " " << g;
        std::cout << "\tredirect_uris:";
        for (const auto& u : c.redirect_uris) std::cout << " " << u;
        std::cout << "\n";
    }
    return 0;
}

int client_rm(const store_location& at, const std::string& client_id) {
    auto st = open_or_exit(at);
    auto ec = await_sync(st->delete_client(client_id));
    if (ec == server_errc::not_found) return fail("latch-idp: no client '" + client_id + "'");
    if (ec) return fail("latch-idp: cannot remove the client: " + ec.message());
    std::cout << "removed client " << client_id << "\n";
    return 0;
}

}  // namespace latchkey::idp

#include "sqlite_db.hpp"

#include <latchkey/flows/server/server_error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

stmt::~stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
}

stmt& stmt::bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}

stmt& stmt::bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
}

int stmt::step() {
    return sqlite3_step(s_);
}

std::string stmt::text(int col) const {
    const auto* p = sqlite3_column_text(s_, col);
    const int n = sqlite3_column_bytes(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string{};
}

std::int64_t stmt::int64(int col) const {
    return sqlite3_column_int64(s_, col);
}

namespace {

// Creates the file with mode 0600 before SQLite does (SQLite would use 0644 minus umask):
// it holds password hashes and the signing keys. An existing file is left alone, and never
// opened here: closing any descriptor of a database file drops every POSIX lock this process
// holds on it (fcntl semantics), so opening the second (reader) connection that way would
// let another process (the admin CLI) believe it was the last connection and delete the WAL
// under the server, whose later commits would then be lost.
bool precreate_private(const std::string& path) {
    struct stat sb {};
    if (::stat(path.c_str(), &sb) == 0) return true;
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return errno == EEXIST;  // made by another process meanwhile: SQLite opens it
    ::close(fd);
    return true;
}

}  // namespace

result<std::unique_ptr<sqlite_db>> sqlite_db::open(const std::string& path, diagnostics& diag) {
    const mode_t old_mask = ::umask(077);  // the -wal and -shm files too
    const bool created = precreate_private(path);
    sqlite3* raw = nullptr;
    const int rc = created ? sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr)
                           : SQLITE_CANTOPEN;
    ::umask(old_mask);
    if (rc != SQLITE_OK) {
        diag.client_message = "cannot open the database " + path + ": " +
                              (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
        sqlite3_close(raw);
        return make_error_code(server_errc::storage_failed);
    }
    std::unique_ptr<sqlite_db> db(new sqlite_db(raw));
    // WAL: readers never block the writer. synchronous=FULL: the WAL is fsynced at every
    // commit, so a commit that returned survives power loss as well as kill -9 (NORMAL
    // survives kill -9 but may roll back the last commits on power loss, which would
    // un-redeem a redeemed code). busy_timeout: another process (the admin CLI) may hold
    // the write lock for a moment.
    const bool ok = db->exec("PRAGMA journal_mode=WAL") && db->exec("PRAGMA synchronous=FULL") &&
                    db->exec("PRAGMA foreign_keys=ON") && db->exec("PRAGMA busy_timeout=5000");
    if (!ok || !db->migrate(diag)) {
        if (diag.client_message.empty())
            diag.client_message = "cannot set up the database " + path + ": " + db->last_error();
        return make_error_code(server_errc::storage_failed);
    }
    return db;
}

sqlite_db::~sqlite_db() {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    sqlite3_close(db_);
}

stmt sqlite_db::prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it != cache_.end()) return stmt(it->second);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                           nullptr) != SQLITE_OK) {
        // A bug in our SQL, not a runtime condition: fail loudly.
        std::fprintf(stderr, "latch-idp: SQL does not compile: %s\n", sqlite3_errmsg(db_));
        std::abort();
    }
    cache_.emplace(std::string(sql), s);
    return stmt(s);
}

bool sqlite_db::exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) std::fprintf(stderr, "latch-idp: database: %s\n", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return rc == SQLITE_OK;
}

std::string sqlite_db::last_error() const {
    return sqlite3_errmsg(db_);
}

int sqlite_db::schema_version() {
    auto s = prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    return s.step() == SQLITE_ROW ? static_cast<int>(s.int64(0)) : -1;
}

bool sqlite_db::migrate(diagnostics& diag) {
    if (!exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"))
        return false;
    transaction tx(*this);  // one writer migrates; others wait on busy_timeout
    if (!tx.ok()) return false;
    const int current = schema_version();
    if (current < 0) return false;
    if (auto why = newer_schema_problem(current); !why.empty()) {
        diag.client_message = std::move(why);
        return false;
    }
    for (auto* m = migrations_begin(); m != migrations_end(); ++m) {
        if (m->version <= current) continue;
        if (!exec(m->sql)) return false;
        auto s = prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)");
        s.bind(1, std::int64_t{m->version}).bind(2, static_cast<std::int64_t>(std::time(nullptr)));
        if (s.step() != SQLITE_DONE) return false;
    }
    return tx.commit();
}

}  // namespace latchkey::transport::server::detail

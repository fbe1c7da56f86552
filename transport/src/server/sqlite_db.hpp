// A synchronous SQLite connection (libsqlite3) for the SQLite adapter of the storage port.
// Used from one thread at a time (the adapter's DB thread; the admin CLI's only thread).
#pragma once

#include "schema.hpp"

#include <latchkey/core/error.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace latchkey::transport::server::detail {

// A prepared statement, reset and unbound when it goes back to the cache.
class stmt {
public:
    explicit stmt(sqlite3_stmt* s) : s_(s) {}
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
    ~stmt();

    stmt& bind(int i, std::string_view v);
    stmt& bind(int i, std::int64_t v);
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step();
    std::string text(int col) const;
    std::int64_t int64(int col) const;

private:
    sqlite3_stmt* s_;
};

class sqlite_db {
public:
    // Opens (creating) the database file, mode 0600, sets WAL + synchronous=FULL +
    // foreign keys + a busy timeout, and applies pending migrations. Errors:
    // server_errc::storage_failed with diag.client_message naming the file and SQLite's reason.
    static result<std::unique_ptr<sqlite_db>> open(const std::string& path, diagnostics& diag);
    ~sqlite_db();
    sqlite_db(const sqlite_db&) = delete;
    sqlite_db& operator=(const sqlite_db&) = delete;

    // A cached prepared statement (compiled once per SQL text).
    stmt prepare(std::string_view sql);
    // Runs statements without results (schema, BEGIN/COMMIT). false on error (logged).
    bool exec(const char* sql);
    // The last error, for logs (never contains bound values).
    std::string last_error() const;
    int schema_version();

    sqlite3* handle() const { return db_; }

private:
    explicit sqlite_db(sqlite3* db) : db_(db) {}
    bool migrate(diagnostics& diag);

    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded. IMMEDIATE takes the
// write lock up front, so read-then-write inside cannot interleave with another writer
// (another process on the same file included).
class transaction {
public:
    explicit transaction(sqlite_db& db) : db_(db), open_(db.exec("BEGIN IMMEDIATE")) {}
    ~transaction() {
        if (open_) db_.exec("ROLLBACK");
    }
    bool ok() const { return open_; }
    bool commit() {
        if (!open_) return false;
        open_ = false;
        return db_.exec("COMMIT");
    }

private:
    sqlite_db& db_;
    bool open_;
};


}  // namespace latchkey::transport::server::detail

// The storage port's contract tests run against both adapters: SQLite (a file in a temp
// dir) and PostgreSQL (a fresh database on a throwaway server that scripts/pg.sh starts once
// per test process and stops at exit). Without the PostgreSQL 15 binaries the PostgreSQL
// runs are skipped, with a warning; $LATCH_PG_URI points them at a running server instead
// (its role must be allowed CREATE DATABASE).
#pragma once

#include <latchkey/transport/server/store.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace latchkey::test {

// A database for one test: SQLite in `dir`, or a new PostgreSQL database.
class store_db {
public:
    store_db(const std::string& backend, const std::filesystem::path& dir);
    bool available() const { return !location_.empty(); }  // false: PostgreSQL absent (skip)
    bool is_pg() const { return pg_; }
    // A store on it (each call another connection, or another pool: another "replica").
    std::unique_ptr<transport::server::store> open() const;
    const std::string& location() const { return location_; }  // file path or URI
    // A single-value query through psql/sqlite3 (for assertions on what is stored).
    std::string scalar(const std::string& sql) const;

private:
    bool pg_ = false;
    std::string location_;
};

// The URI of the test process's PostgreSQL server ("" when it cannot run here).
std::string pg_server_uri();

}  // namespace latchkey::test

namespace latchkey::test {
// Restarts this process's PostgreSQL server (fast shutdown, start on the same port); false
// when it is not ours to restart ($LATCH_PG_URI) or it did not come back.
bool pg_server_restart();
}  // namespace latchkey::test

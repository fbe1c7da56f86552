#include "support/store_backends.hpp"

#include <latchkey/transport/server/pg_store.hpp>
#include <latchkey/transport/server/sqlite_store.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace latchkey::test {

namespace {

std::string run_capture(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    std::array<char, 512> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p)) out += buf.data();
    if (::pclose(p) != 0) return {};
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

// The server of this process: started at first use, stopped when the process exits.
struct pg_server {
    std::filesystem::path home;
    std::string uri;
    pg_server() {
        if (const char* given = std::getenv("LATCH_PG_URI"); given && *given) {
            uri = given;
            return;
        }
        const std::string script = std::string(LATCH_SOURCE_DIR) + "/scripts/pg.sh";
        if (std::system(("bash " + script + " available").c_str()) != 0) return;
        home = std::filesystem::temp_directory_path() / ("latch-pg-test-" + std::to_string(::getpid()));
        uri = run_capture("LATCH_PG_FSYNC=off bash " + script + " start " + home.string());
    }
    ~pg_server() {
        if (home.empty()) return;
        const std::string script = std::string(LATCH_SOURCE_DIR) + "/scripts/pg.sh";
        (void)std::system(("bash " + script + " stop " + home.string()).c_str());
        std::error_code ec;
        std::filesystem::remove_all(home, ec);
    }
};

std::string with_database(const std::string& uri, const std::string& db) {
    const auto slash = uri.rfind('/');
    return uri.substr(0, slash + 1) + db;
}

}  // namespace

namespace {
pg_server& the_server() {
    static pg_server server;
    return server;
}
}  // namespace

std::string pg_server_uri() {
    return the_server().uri;
}

bool pg_server_restart() {
    auto& s = the_server();
    if (s.home.empty() || s.uri.empty()) return false;
    const std::string script = std::string(LATCH_SOURCE_DIR) + "/scripts/pg.sh";
    return std::system(("LATCH_PG_FSYNC=off bash " + script + " restart " + s.home.string()).c_str()) == 0;
}

store_db::store_db(const std::string& backend, const std::filesystem::path& dir) {
    if (backend == "sqlite") {
        location_ = (dir / "idp.db").string();
        return;
    }
    pg_ = true;
    const std::string server = pg_server_uri();
    if (server.empty()) {
        WARN("PostgreSQL 15 is not installed (postgresql-15): the PostgreSQL run is skipped");
        return;
    }
    static std::atomic<int> n{0};
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    const std::string created = run_capture("psql -q -X '" + server + "' -c 'CREATE DATABASE " + name + "' && echo ok");
    REQUIRE(created == "ok");
    location_ = with_database(server, name);
}

std::unique_ptr<transport::server::store> store_db::open() const {
    diagnostics diag;
    auto s = pg_ ? transport::server::open_pg_store(location_, diag) : transport::server::open_sqlite_store(location_, diag);
    INFO(diag.client_message);
    REQUIRE(s.has_value());
    return std::move(*s);
}

std::string store_db::scalar(const std::string& sql) const {
    const std::string cmd = pg_ ? "psql -X -At '" + location_ + "' -c \"" + sql + "\""
                                : "sqlite3 -readonly '" + location_ + "' \"" + sql + "\"";
    return run_capture(cmd);
}

}  // namespace latchkey::test

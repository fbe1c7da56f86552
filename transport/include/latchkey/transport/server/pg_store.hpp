// The PostgreSQL adapter of the storage port (store.hpp), for replicas: N latch-idp
// processes on one database share sessions, codes, refresh tokens, device codes, the jti
// cache, signing keys and rate-limit counters, and nothing else.
//
// I/O: libpq in non-blocking mode, its socket awaited on the caller's executor (no thread
// of its own, nothing blocks the io_context); at most `pool_size` connections, opened on
// demand and re-opened after the server restarts. Callers wait at most `acquire_timeout`
// for a connection, then fail with server_errc::busy (503 + Retry-After).
// Atomicity: every single-use step is one statement (UPDATE ... RETURNING, data-modifying
// WITH, INSERT ... ON CONFLICT) or one transaction (device poll, two-factor enrolment).
// Threads: one thread at a time uses the store (the io_context's; a test's).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/transport/server/store.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace latchkey::transport::server {

struct pg_options {
    std::size_t pool_size = 4;
    std::size_t max_waiting = 4096;
    std::chrono::milliseconds acquire_timeout{2000};
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds query_timeout{10000};
};

// Connects once (blocking: start-up only) to check the server and apply pending migrations
// under an advisory lock (replicas starting together migrate once). `conninfo`: a libpq
// connection string or URI (postgresql://user@host:port/db). Errors: server_errc::
// storage_failed with diag.client_message (libpq's reason; never the password).
result<std::unique_ptr<store>> open_pg_store(const std::string& conninfo, diagnostics& diag, pg_options options = {});

// Is `location` a PostgreSQL connection URI (postgresql:// or postgres://)?
bool is_pg_uri(const std::string& location);

}  // namespace latchkey::transport::server

// The SQLite adapter of the storage port (store.hpp).
//
// Threads: two connections, each used only by its own dedicated thread: the writer (every
// write, and the reads that belong to one) and a query_only reader for the point reads of
// every request (find_client, use_session's look-up), which in WAL mode never wait behind
// the writer's commit. Every operation is posted to its thread and its result posted back
// to the caller's executor, so the io_context never runs SQLite (no call on it waits for
// the disk or for a lock another process holds); at most `max_queued` operations wait per
// thread, beyond that they fail with server_errc::busy.
// Durability: WAL, synchronous=FULL (a returned commit survives kill -9 and power loss).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/transport/server/store.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace latchkey::transport::server {

struct sqlite_options {
    std::size_t max_queued = 4096;
};

// Opens or creates `path` (mode 0600) and migrates it. Errors: server_errc::storage_failed
// with diag.client_message.
result<std::unique_ptr<store>> open_sqlite_store(const std::string& path, diagnostics& diag,
                                                 sqlite_options options = {});

}  // namespace latchkey::transport::server

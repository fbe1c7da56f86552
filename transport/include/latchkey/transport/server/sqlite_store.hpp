// The SQLite adapter of the storage port (store.hpp).
//
// Threads: one connection, used only by one dedicated DB thread. Every operation is posted
// there and its result posted back to the caller's executor, so the io_context never runs
// SQLite (no call on it waits for the disk or for a lock another process holds); at most
// `max_queued` operations wait, beyond that they fail with server_errc::busy.
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

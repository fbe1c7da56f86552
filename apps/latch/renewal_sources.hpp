// The CLI's client secret and machine key sources for token_source (renewal_sources.cpp).
#pragma once

#include "app.hpp"

#include <latchkey/transport/renewal.hpp>
#include <latchkey/transport/token_source.hpp>

#include <filesystem>
#include <memory>

namespace latchkey::cli {

// A file holding a client secret (trailing newlines dropped); bad_input when it cannot be
// read or is empty.
result<secret> read_client_secret_file(const std::filesystem::path& file, diagnostics& diag);

// Remembers in the context how a password or client-credentials login authenticated
// (never the secret) as a context setting to save with the login (save_options::extra);
// an empty value, which forgets it, for every other login.
void remember_client_auth(std::map<std::string, std::string>& extra, const login_options& o);

// The sources every token_source and revocation of the CLI uses; `a` must outlive them.
transport::client_auth_sources client_auth_sources_of(app& a);

// A machine context's renewal was refused (invalid_client): says why, as a machine login
// does (clock skew, a rotated key, an unregistered machine).
boost::asio::awaitable<void> async_explain_machine_refusal(app& a, const stored_credentials& c,
                                                          diagnostics& diag);

// A token source for the CLI: renews within 5 minutes of expiry (seed 002) unless
// --no-auto-refresh, under the cross-process lock. `fall_back`: token_source_options::
// use_valid_token_on_failure.
std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx,
                                                     bool fall_back);
std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx);

}  // namespace latchkey::cli

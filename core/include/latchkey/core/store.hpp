// The credential store: where logins live between processes.
//
// Layout under the home directory ($LATCH_HOME, else $XDG_CONFIG_HOME/latch, else
// ~/.config/latch; created 0700, refused when another user owns it or can write to it):
//   config.json                 contexts (issuer, client id, scopes) and the current one, 0600
//   credentials/<context>.json  one credentials file per context, 0600
//   credentials/<context>.lock  advisory lock for cross-process refresh (token lifecycle)
//                               and a login's save (transport/login.hpp)
//   config.lock                 advisory lock a login holds while it updates config.json
// Every write is atomic: temp file in the same directory, fsync, rename, fsync the dir.
// Temp files are named .<file>.tmp-<pid>-<random>. A refresh reserves its temp file before
// it sends the request (prepare_save), and a crash that leaves a complete, newer record in
// one is repaired by the next refresh (recover); logout removes them (issue 18 #3, #8).
// A file we cannot parse is reported (client_errc::store_corrupt) and never overwritten
// silently. The schema is versioned ("version": 1) and documented in README.md.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/token_set.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace latchkey {

struct identity {
    std::string subject;  // `sub`
    std::string email;
    std::string name;
    std::string username;  // preferred_username
    // Further string attributes an identity lookup answered (seed 000: platformId, role;
    // lookup_attribute_names in token_import.hpp), kept and shown by `latch status`.
    std::map<std::string, std::string> attributes;
    // The best name to show a person: name, else email, else username, else sub.
    std::string display() const;
};

// A session token a gateway issued for this login's ID token (core/gateway.hpp). Optional
// in the file: credentials written before gateways existed simply have none.
struct gateway_session {
    std::string url;                       // the gateway that issued it
    secret token;
    std::optional<time_point> expires_at;  // absent when the gateway gave no expiry
    time_point obtained_at{};
};

// How a context logged in; decides how its token is renewed (transport/token_source.hpp)
// and what `latch status` says. Stored as a string (to_string); one mapping, here.
enum class login_method {
    unknown,             // a file written by a later version, or none given
    device,              // RFC 8628
    browser,             // authorization code + PKCE, loopback listener
    browser_pasted,      // the same, the callback URL pasted by the user
    callback_url,        // an ID token from a callback URL (#id_token=), no refresh
    password,            // RFC 6749 §4.3
    client_credentials,  // RFC 6749 §4.4 with a client secret
    token,               // an imported token (no refresh)
    machine,             // client credentials with private_key_jwt (RFC 7523)
};
// The stored spelling: "device", "browser", "browser-pasted", "callback-url", "password",
// "client_credentials", "token", "machine"; "" for unknown.
std::string_view to_string(login_method m);
// login_method::unknown for anything else.
login_method login_method_from_string(std::string_view s);
// For `latch status`: "browser (authorization code + PKCE)".
std::string_view describe_method(login_method m);
// For the line a login prints: "browser", "device flow", "machine key".
std::string_view short_method_label(login_method m);

struct stored_credentials {
    static constexpr int schema_version = 1;
    std::string context = "default";
    std::string issuer;
    std::string client_id;
    login_method method = login_method::unknown;
    bool expired = false;      // marked when the IdP ended the session (invalid_grant)
    time_point obtained_at{};
    identity who;
    token_set tokens;
    std::optional<gateway_session> gateway;  // "gateway" in the file; see README
};

struct context_config {
    std::string issuer;
    std::string client_id;
    std::vector<std::string> scopes;
    std::map<std::string, std::string> extra;  // later settings, kept verbatim
};

struct config_file {
    static constexpr int schema_version = 1;
    std::string current_context = "default";
    std::map<std::string, context_config> contexts;
};

// A context name is used in file names: letters, digits, '-', '_', '.', 1..64 chars,
// not starting with '.'.
bool valid_context_name(std::string_view name);
// "invalid context name '<name, escaped>': use letters, ..." (the name may hold anything).
std::string invalid_context_message(std::string_view name);

// Writes `content` to `path` atomically with `mode` (see the header comment).
error_code write_file_atomic(const std::filesystem::path& path, std::string_view content,
                             unsigned mode, diagnostics& diag);

// A credentials save reserved before the request whose result it will hold, so that a
// rotating refresh is never sent when its result cannot be stored (full disk, read-only
// or foreign credentials directory). Holds an open temp file (0600, O_EXCL) of the
// reserved size, padded with spaces (JSON whitespace: a record written over the start of
// it parses even before the file is truncated to size). Dropped without commit(), it
// removes its temp file. Move-only.
class pending_save {
public:
    pending_save(pending_save&& other) noexcept;
    pending_save& operator=(pending_save&& other) noexcept;
    pending_save(const pending_save&) = delete;
    pending_save& operator=(const pending_save&) = delete;
    ~pending_save();

    // Writes `creds` into the reserved file, fsyncs it, renames it over the credentials
    // file of the context it was prepared for and fsyncs the directory. Once only.
    error_code commit(const stored_credentials& creds, diagnostics& diag);
    const std::filesystem::path& temp_path() const noexcept { return temp_; }

private:
    friend class credential_store;
    pending_save(int fd, std::filesystem::path temp, std::filesystem::path target);
    void discard() noexcept;

    int fd_ = -1;
    std::filesystem::path temp_;
    std::filesystem::path target_;
};

class credential_store {
public:
    explicit credential_store(std::filesystem::path home) : home_(std::move(home)) {}

    // $LATCH_HOME, else $XDG_CONFIG_HOME/latch, else $HOME/.config/latch.
    static result<std::filesystem::path> default_home(diagnostics& diag);

    const std::filesystem::path& home() const noexcept { return home_; }
    std::filesystem::path config_path() const { return home_ / "config.json"; }
    std::filesystem::path credentials_path(std::string_view context) const;
    std::filesystem::path lock_path(std::string_view context) const;

    // Empty optional when nothing is stored; store_corrupt / store_io on a bad file.
    result<std::optional<stored_credentials>> load(std::string_view context,
                                                   diagnostics& diag) const;
    error_code save(const stored_credentials& creds, diagnostics& diag) const;
    // Before a login replaces the credentials of `context` (issue 18 #13), under the
    // context's lock: when the file exists but cannot be parsed, it is renamed to
    // <file>.corrupt-<UTC time> (kept, never overwritten) and the result says so, in a
    // line ready to print; empty when there was nothing to set aside. Errors: store_io
    // when the file cannot be read or moved (then nothing may be saved over it).
    struct set_aside_file {
        std::filesystem::path kept_as;
        std::string notice;  // "<file> could not be read (<why>); it was kept as <kept_as>"
    };
    result<std::optional<set_aside_file>> set_aside_corrupt(std::string_view context,
                                                            time_point now,
                                                            diagnostics& diag) const;
    // A warning when the context's credentials file is readable or writable by group or
    // others ("<file> has mode 0644: other users can read the tokens in it; run `chmod
    // 600 <file>`"); empty when it is private or absent. Such a file is still used (a
    // machine key file is refused instead: machine_store.hpp); README "File permissions".
    std::string permission_warning(std::string_view context) const;
    // true when a file was removed. Removes the context's temp files too (issue 18 #8).
    result<bool> remove(std::string_view context, diagnostics& diag) const;

    // Reserves the save of a refreshed `current` (see pending_save): creates the temp
    // file and writes and fsyncs padding of twice the size of `current`'s record plus
    // 4 KiB. store_io with the reason ("no space left on device") when it cannot; then
    // nothing was sent yet and nothing stored has changed.
    result<pending_save> prepare_save(const stored_credentials& current,
                                      diagnostics& diag) const;

    // Crash recovery, to be called with the context's lock held (so every temp file of
    // the context found is an orphan, unless its pid is another live process). Adopts
    // (renames over the credentials file) a complete temp record that was prepared over
    // exactly the record stored now (prepare_save puts a hash of it in the temp file's
    // name: .<context>.json.tmp-<pid>-<n>-<base>), belongs to the same session (issuer,
    // client id, subject, login time not earlier) and differs from it; removes every
    // other orphaned temp file of the context. Returns true when a record was adopted.
    // Never touches a credentials file it cannot parse.
    result<bool> recover(std::string_view context, diagnostics& diag) const;

    result<config_file> load_config(diagnostics& diag) const;  // empty config when absent
    error_code save_config(const config_file& cfg, diagnostics& diag) const;

    // Creates home/, home/credentials/ and missing parents with mode 0700 whatever the
    // umask; never chmods a directory that exists. Fails (store_io, with the fix in the
    // message) when home/ or home/credentials/ is not ours or is writable by group or
    // others, as OpenSSH does; load() and load_config() check the same before reading.
    error_code ensure_dirs(diagnostics& diag) const;
    error_code check_dirs(diagnostics& diag) const;

private:
    std::filesystem::path home_;
};

namespace detail {
// Test seam: called after the temp file is written and synced, before the rename. A test
// sets it in a forked child to simulate a crash at the worst moment.
extern void (*before_rename_hook)(const std::filesystem::path& temp_path);
}  // namespace detail

// JSON codecs (exposed for tests and the SDK).
std::string to_json(const stored_credentials& c);
result<stored_credentials> credentials_from_json(std::string_view text, diagnostics& diag);
std::string to_json(const config_file& c);
result<config_file> config_from_json(std::string_view text, diagnostics& diag);

}  // namespace latchkey

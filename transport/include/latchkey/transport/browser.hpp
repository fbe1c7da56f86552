// Opening the user's browser for a browser login (issue 5), without blocking the
// io_context and never through a shell.
//
// Two steps, so the CLI can decide the login mode before it starts anything:
//
//   auto d = transport::decide_browser(transport::browser_env::from_process(no_browser_open));
//   if (!d.launch) { print the URL (d.reason says why; printable) }   // e.g. over SSH
//   else if (auto ec = co_await transport::async_launch_browser(ex, d, url, diag))
//       { print diag.client_message and the URL }                      // browser_failed
//
// or in one call: co_await transport::async_open_browser(ex, url, diag).
//
// The decision (decide_browser, pure):
//   1. --no-browser-open                          -> none
//   2. $BROWSER, a ':'-separated list; the first entry whose program exists and is not a
//      terminal browser is used. An entry may carry arguments separated by spaces, and
//      "%s" stands for the URL (else the URL is the last argument). Explicitly set, it is
//      used even over SSH or without a display (the user asked for it).
//   3. an SSH session (SSH_CONNECTION or SSH_TTY)  -> none: the browser would open on the
//      remote machine, not in front of the user
//   4. WSL (/proc/version mentions Microsoft, or WSL_DISTRO_NAME) -> wslview (opens the
//      Windows browser), else xdg-open when there is a display
//   5. macOS -> open
//   6. a display (DISPLAY or WAYLAND_DISPLAY) -> xdg-open
//   7. otherwise none.
// Terminal browsers (lynx, w3m, links, links2, elinks, browsh, www-browser) are never
// started, even when named in $BROWSER: they would take over the terminal the login is
// printing to.
//
// Launching: posix_spawnp with the URL as one argv element (no shell, so no quoting
// issues or injection), stdin/stdout/stderr on /dev/null, default signal dispositions, and
// its own process group (a Ctrl-C at latch must not kill the browser it just opened). The
// exit is awaited by polling waitpid(WNOHANG) on a steady_timer (no SIGCHLD handler, so
// embedders keep theirs). Launchers like xdg-open/open/wslview exit at once: a non-zero
// status is client_errc::browser_failed. A program still running after the wait bound
// (e.g. BROWSER=firefox, which lives as long as the window) counts as opened; a detached
// thread then reaps it with a blocking waitpid, so no zombie is left and the io_context
// holds no pending work for it.
#pragma once

#include <latchkey/core/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::transport {

// What decide_browser looks at. from_process() reads the real environment; tests build
// one by hand.
struct browser_env {
    std::string browser_var;       // $BROWSER, empty when unset
    bool has_display = false;      // DISPLAY or WAYLAND_DISPLAY non-empty
    bool ssh_session = false;      // SSH_CONNECTION or SSH_TTY non-empty
    bool wsl = false;              // /proc/version contains "microsoft", or WSL_DISTRO_NAME
    bool macos = false;
    bool no_browser_open = false;  // --no-browser-open
    // Resolves a program name (PATH lookup, or a path containing '/') to the executable's
    // real path (symlinks resolved); nullopt when not found or not executable.
    std::function<std::optional<std::string>(const std::string&)> find_program;

    static browser_env from_process(bool no_browser_open = false);
};

struct browser_decision {
    bool launch = false;
    std::string program;            // resolved path of argv[0]
    std::vector<std::string> argv;  // argv[0] as named, then arguments; "%s" = the URL
    std::string reason;             // why (not): printable, ours
};

browser_decision decide_browser(const browser_env& env);

// True for lynx, w3m, links, links2, elinks, browsh, www-browser (by base name).
bool is_terminal_browser(std::string_view program);

struct launch_options {
    // How long to wait for the launcher's exit status before assuming it opened.
    std::chrono::milliseconds wait_bound{5000};
};

// Runs `d` (which must have launch == true) with `url`. Returns an empty code when the
// program exited 0 or was still running at the bound; client_errc::browser_failed with a
// message in diag when spawning failed or it exited non-zero / by a signal. Cancellation
// (what the caller's filter lets through; terminal by default) stops the wait, not the
// program, and returns operation_aborted; the child is still reaped.
boost::asio::awaitable<error_code> async_launch_browser(boost::asio::any_io_executor ex,
                                                        browser_decision d, std::string url,
                                                        diagnostics& diag,
                                                        launch_options opts = {});

// decide_browser(browser_env::from_process()) then async_launch_browser. When there is
// nothing to launch: client_errc::browser_failed with the reason in diag.
boost::asio::awaitable<error_code> async_open_browser(boost::asio::any_io_executor ex,
                                                      std::string url, diagnostics& diag);

}  // namespace latchkey::transport

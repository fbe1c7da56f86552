// Opening the user's browser for a browser login (issue 5), without blocking the
// io_context and never through a shell.
//
// Two steps, so the CLI can decide the login mode before it starts anything:
//
//   transport::browser_launcher launcher(ex, transport::browser_env::from_process(no_open));
//   auto d = launcher.decide();
//   if (!d.launch) { print the URL (d.reason says why; printable) }   // e.g. over SSH
//   else if (auto ec = co_await launcher.async_launch(d, url, diag))
//       { print diag.client_message and the URL }                      // browser_failed
//
// or in one call: co_await launcher.async_open(url, diag) (browser_launcher, below).
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
// (e.g. BROWSER=firefox, which lives as long as the window) counts as opened; the
// launcher reaps it (WNOHANG) at a later launch or when destroyed.
#pragma once

#include <latchkey/core/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
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

// Opens URLs in the user's browser: the port a login uses (transport/login.hpp), so an
// embedder or a test can supply its own.
class browser_port {
public:
    virtual ~browser_port() = default;
    // Whether a browser can be opened here, and why (not).
    virtual browser_decision decide() const = 0;
    // Opens `url`. Errors: client_errc::browser_failed with a printable message in diag;
    // operation_aborted when cancelled.
    virtual boost::asio::awaitable<error_code> async_open(std::string url, diagnostics& diag) = 0;
};

// The real browser port. It owns the launched children it has not reaped yet: a launcher
// still running at the wait bound (BROWSER=firefox lives as long as its window) is not
// waited for (no thread, no work left on the io_context); each later launch, and the
// destructor, reaps (WNOHANG) those that have ended since. Two launchers in one process
// share nothing. Use it from one thread or strand.
class browser_launcher final : public browser_port {
public:
    explicit browser_launcher(boost::asio::any_io_executor ex,
                              browser_env env = browser_env::from_process(),
                              launch_options opts = {});
    ~browser_launcher() override;
    browser_launcher(const browser_launcher&) = delete;
    browser_launcher& operator=(const browser_launcher&) = delete;

    browser_decision decide() const override;  // decide_browser(env)
    // decide() then async_launch(); nothing to launch: browser_failed with the reason.
    boost::asio::awaitable<error_code> async_open(std::string url, diagnostics& diag) override;

    // Runs `d` (which must have launch == true) with `url`. Returns an empty code when the
    // program exited 0 or was still running at the bound; client_errc::browser_failed with
    // a message in diag when spawning failed or it exited non-zero / by a signal.
    // Cancellation (what the caller's filter lets through; terminal by default) stops the
    // wait, not the program, and returns operation_aborted; the child is still reaped.
    // `*this` must outlive the co_await.
    boost::asio::awaitable<error_code> async_launch(browser_decision d, std::string url,
                                                    diagnostics& diag);

    std::size_t unreaped() const noexcept { return unreaped_.size(); }  // tests

private:
    void reap_ended();
    boost::asio::any_io_executor ex_;
    browser_env env_;
    launch_options opts_;
    std::vector<int> unreaped_;  // pids
};

}  // namespace latchkey::transport

// The browser launcher: a pure decision, then posix_spawnp and an awaited exit.
// See browser.hpp for the rules and why.
#include <latchkey/transport/browser.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto pos = s.find(sep, start);
        out.emplace_back(s.substr(start, pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> out;
    std::string word;
    for (char c : s) {
        if (c == ' ' || c == '\t') {
            if (!word.empty()) out.push_back(std::move(word));
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty()) out.push_back(std::move(word));
    return out;
}

std::string_view base_name(std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool executable_file(const std::string& path) {
    struct stat sb {};
    return ::stat(path.c_str(), &sb) == 0 && S_ISREG(sb.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> real_path(const std::string& path) {
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) return std::nullopt;
    return std::string(buf);
}

// PATH lookup like execvp's, without executing anything.
std::optional<std::string> find_in_path(const std::string& name) {
    if (name.empty()) return std::nullopt;
    if (name.find('/') != std::string::npos)
        return executable_file(name) ? real_path(name) : std::nullopt;
    std::string path = env_or_empty("PATH");
    if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
    for (auto& dir : split(path, ':')) {
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
        if (executable_file(candidate)) return real_path(candidate);
    }
    return std::nullopt;
}

bool proc_version_mentions_microsoft() {
    std::ifstream in("/proc/version");  // tiny, local, read once: not an I/O wait
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text.find("microsoft") != std::string::npos;
}

browser_decision chosen(std::string program, std::vector<std::string> argv, std::string why) {
    browser_decision d;
    d.launch = true;
    d.program = std::move(program);
    d.argv = std::move(argv);
    d.reason = std::move(why);
    return d;
}

browser_decision none(std::string why) {
    browser_decision d;
    d.reason = std::move(why);
    return d;
}

}  // namespace

bool is_terminal_browser(std::string_view program) {
    static constexpr std::array<std::string_view, 7> names{
        "lynx", "w3m", "links", "links2", "elinks", "browsh", "www-browser"};
    auto base = base_name(program);
    for (auto n : names)
        if (base == n) return true;
    return false;
}

browser_env browser_env::from_process(bool no_browser_open) {
    browser_env env;
    env.browser_var = env_or_empty("BROWSER");
    env.has_display = !env_or_empty("DISPLAY").empty() || !env_or_empty("WAYLAND_DISPLAY").empty();
    env.ssh_session = !env_or_empty("SSH_CONNECTION").empty() || !env_or_empty("SSH_TTY").empty();
    env.wsl = !env_or_empty("WSL_DISTRO_NAME").empty() || proc_version_mentions_microsoft();
#if defined(__APPLE__)
    env.macos = true;
#endif
    env.no_browser_open = no_browser_open;
    env.find_program = find_in_path;
    return env;
}

browser_decision decide_browser(const browser_env& env) {
    if (env.no_browser_open) return none("--no-browser-open was given");
    auto find = [&env](const std::string& name) -> std::optional<std::string> {
        return env.find_program ? env.find_program(name) : std::nullopt;
    };
    std::string skipped;  // what $BROWSER named that we could not use, for the reason text
    auto note_skip = [&skipped](const std::string& what) {
        skipped += skipped.empty() ? "; skipped from $BROWSER: " : ", ";
        skipped += what;
    };
    for (auto& entry : split(env.browser_var, ':')) {
        auto argv = split_words(entry);
        if (argv.empty()) continue;
        if (is_terminal_browser(argv[0])) {
            note_skip(argv[0] + " (a terminal browser)");
            continue;
        }
        auto path = find(argv[0]);
        if (!path) {
            note_skip(argv[0] + " (not found)");
            continue;
        }
        if (is_terminal_browser(*path)) {  // e.g. a symlink to w3m
            note_skip(argv[0] + " (a terminal browser)");
            continue;
        }
        return chosen(*path, std::move(argv), "$BROWSER names " + entry);
    }
    if (env.ssh_session)
        return none("this is an SSH session, so a browser here would not open in front of you" +
                    skipped);
    if (env.wsl) {
        if (auto p = find("wslview")) return chosen(*p, {"wslview"}, "WSL: wslview" + skipped);
        if (env.has_display)
            if (auto p = find("xdg-open")) return chosen(*p, {"xdg-open"}, "WSL: xdg-open" + skipped);
        return none("WSL without wslview (package wslu)" + skipped);
    }
    if (env.macos) {
        if (auto p = find("open")) return chosen(*p, {"open"}, "macOS: open" + skipped);
        return none("`open` not found" + skipped);
    }
    if (!env.has_display) return none("there is no display (DISPLAY/WAYLAND_DISPLAY unset)" + skipped);
    if (auto p = find("xdg-open")) return chosen(*p, {"xdg-open"}, "xdg-open" + skipped);
    return none("xdg-open not found" + skipped);
}

namespace {

// Secrets latch reads from its environment (README): the browser, and whatever it
// starts, runs for hours and reports crashes with its environment; it gets none of them.
constexpr std::string_view secret_variables[] = {"LATCH_CLIENT_SECRET", "LATCH_PASSWORD",
                                                 "LATCH_MACHINE_KEY", "LATCH_SESSION_TOKEN"};

// `environ` without the secret variables (pointers into it; valid until it changes).
std::vector<char*> child_environment() {
    std::vector<char*> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry(*e);
        const auto name = entry.substr(0, entry.find('='));
        bool secret = false;
        for (auto s : secret_variables) secret = secret || name == s;
        if (!secret) env.push_back(*e);
    }
    env.push_back(nullptr);
    return env;
}

// posix_spawnp with the URL as an argument (never a shell), stdio on /dev/null, inherited
// descriptors closed (Asio sockets are not close-on-exec: a browser must not inherit the
// loopback listener), default signal dispositions, a process group of its own, and an
// environment without latch's secrets.
int spawn(const browser_decision& d, const std::string& url, pid_t& pid) {
    std::vector<std::string> args = d.argv;
    bool placed = false;
    for (auto& a : args) {
        for (auto pos = a.find("%s"); pos != std::string::npos; pos = a.find("%s", pos + url.size())) {
            a.replace(pos, 2, url);
            placed = true;
        }
    }
    if (!placed) args.push_back(url);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (int rc = posix_spawn_file_actions_init(&fa)) return rc;
    if (int rc = posix_spawnattr_init(&attr)) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#elif defined(__APPLE__)
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    sigset_t none_blocked, defaults;
    sigemptyset(&none_blocked);
    sigemptyset(&defaults);
    for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU})
        sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none_blocked);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, flags);
    auto envp = child_environment();
    int rc = posix_spawnp(&pid, d.program.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

error_code exit_status_error(const browser_decision& d, int status, diagnostics& diag) {
    const std::string& name = d.argv.empty() ? d.program : d.argv.front();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (WIFEXITED(status))
        diag.client_message = "the browser launcher " + name + " exited with status " +
                              std::to_string(WEXITSTATUS(status));
    else
        diag.client_message = "the browser launcher " + name + " was killed by signal " +
                              std::to_string(WTERMSIG(status));
    return client_errc::browser_failed;
}

}  // namespace

browser_launcher::browser_launcher(asio::any_io_executor ex, browser_env env, launch_options opts)
    : ex_(std::move(ex)), env_(std::move(env)), opts_(opts) {}

// A child past the wait bound (or whose wait was cancelled) may live for hours: it is not
// waited for. Each later launch, and the destructor, reaps (WNOHANG) the ones that have
// ended since; a CLI exits first and init reaps the rest.
browser_launcher::~browser_launcher() { reap_ended(); }

void browser_launcher::reap_ended() {
    std::erase_if(unreaped_, [](int p) {
        int status = 0;
        pid_t r = ::waitpid(p, &status, WNOHANG);
        return r == p || (r < 0 && errno != EINTR);  // reaped, or not ours any more
    });
}

browser_decision browser_launcher::decide() const { return decide_browser(env_); }

asio::awaitable<error_code> browser_launcher::async_launch(browser_decision d, std::string url,
                                                           diagnostics& diag) {
    if (!d.launch || d.program.empty()) {
        diag.client_message = "no browser to open" + (d.reason.empty() ? "" : ": " + d.reason);
        co_return client_errc::browser_failed;
    }
    reap_ended();
    pid_t pid = -1;
    if (int rc = spawn(d, url, pid)) {
        diag.client_message = "cannot start the browser " + d.program + ": " + std::strerror(rc);
        co_return client_errc::browser_failed;
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    asio::steady_timer timer(ex_);
    auto until = std::chrono::steady_clock::now() + opts_.wait_bound;
    auto interval = std::chrono::milliseconds(2);
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) co_return exit_status_error(d, status, diag);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) co_return error_code{};  // ECHILD: SIGCHLD ignored by the embedder; reaped
        if (std::chrono::steady_clock::now() >= until) {
            unreaped_.push_back(pid);  // still running: a browser, not a launcher; opened
            co_return error_code{};
        }
        timer.expires_after(interval);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (cs.cancelled() != asio::cancellation_type::none) {
            unreaped_.push_back(pid);
            co_return asio::error::operation_aborted;
        }
        interval = std::min(interval * 2, std::chrono::milliseconds(100));
    }
}

asio::awaitable<error_code> browser_launcher::async_open(std::string url, diagnostics& diag) {
    auto d = decide();
    if (!d.launch) {
        diag.client_message = "not opening a browser: " + d.reason;
        co_return client_errc::browser_failed;
    }
    co_return co_await async_launch(std::move(d), std::move(url), diag);
}

}  // namespace latchkey::transport

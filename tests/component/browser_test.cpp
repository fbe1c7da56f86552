// The browser launcher: which program is chosen in which environment, and what a launched
// program actually receives.
#include "support/test_server.hpp"

#include <latchkey/transport/browser.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace latchkey;
using transport::browser_decision;
using transport::browser_env;
using transport::decide_browser;

// An environment whose PATH holds exactly `programs` (name -> resolved path).
browser_env fake_env(std::map<std::string, std::string> programs) {
    browser_env env;
    env.find_program = [programs](const std::string& name) -> std::optional<std::string> {
        auto it = programs.find(name);
        if (it == programs.end()) return std::nullopt;
        return it->second;
    };
    return env;
}

const std::map<std::string, std::string> desktop{
    {"xdg-open", "/usr/bin/xdg-open"},   {"wslview", "/usr/bin/wslview"},
    {"open", "/usr/bin/open"},           {"firefox", "/usr/lib/firefox/firefox"},
    {"lynx", "/usr/bin/lynx"},           {"w3m", "/usr/bin/w3m"},
    {"sensible", "/usr/bin/w3m"},  // a wrapper name that resolves to a terminal browser
};

TEST_CASE("browser: a desktop session uses xdg-open; no display means no browser",
          "[browser]") {
    auto env = fake_env(desktop);
    env.has_display = true;
    auto d = decide_browser(env);
    CHECK(d.launch);
    CHECK(d.program == "/usr/bin/xdg-open");
    CHECK(d.argv == std::vector<std::string>{"xdg-open"});

    env.has_display = false;
    d = decide_browser(env);
    CHECK_FALSE(d.launch);
    CHECK(d.reason.find("no display") != std::string::npos);

    env.has_display = true;
    env.no_browser_open = true;
    env.browser_var = "firefox";
    d = decide_browser(env);
    CHECK_FALSE(d.launch);
    CHECK(d.reason.find("--no-browser-open") != std::string::npos);
}

TEST_CASE("browser: over SSH nothing is opened unless BROWSER is set", "[browser]") {
    auto env = fake_env(desktop);
    env.has_display = true;  // X forwarding: still not in front of the user
    env.ssh_session = true;
    auto d = decide_browser(env);
    CHECK_FALSE(d.launch);
    CHECK(d.reason.find("SSH") != std::string::npos);

    env.browser_var = "firefox";
    d = decide_browser(env);
    CHECK(d.launch);
    CHECK(d.program == "/usr/lib/firefox/firefox");
}

TEST_CASE("browser: WSL prefers wslview; macOS uses open", "[browser]") {
    auto env = fake_env(desktop);
    env.wsl = true;
    env.has_display = true;  // WSLg sets DISPLAY, but xdg-open there opens a Linux browser
    auto d = decide_browser(env);
    CHECK(d.launch);
    CHECK(d.argv.front() == "wslview");

    auto no_wslu = desktop;
    no_wslu.erase("wslview");
    env = fake_env(no_wslu);
    env.wsl = true;
    env.has_display = true;
    CHECK(decide_browser(env).argv.front() == "xdg-open");
    env.has_display = false;
    d = decide_browser(env);
    CHECK_FALSE(d.launch);
    CHECK(d.reason.find("wslview") != std::string::npos);

    env = fake_env(desktop);
    env.macos = true;
    d = decide_browser(env);
    CHECK(d.launch);
    CHECK(d.program == "/usr/bin/open");
}

TEST_CASE("browser: BROWSER is a list; the first usable entry wins, with arguments",
          "[browser]") {
    auto env = fake_env(desktop);
    env.browser_var = "missing-browser:firefox --new-window %s:xdg-open";
    auto d = decide_browser(env);
    CHECK(d.launch);
    CHECK(d.program == "/usr/lib/firefox/firefox");
    CHECK(d.argv == std::vector<std::string>{"firefox", "--new-window", "%s"});
}

TEST_CASE("browser: terminal browsers are never started, even from BROWSER", "[browser]") {
    auto env = fake_env(desktop);
    env.browser_var = "lynx:w3m:/usr/bin/elinks:sensible";
    auto d = decide_browser(env);
    CHECK_FALSE(d.launch);  // no display to fall back to
    CHECK(d.reason.find("lynx (a terminal browser)") != std::string::npos);
    CHECK(d.reason.find("sensible (a terminal browser)") != std::string::npos);

    env.has_display = true;  // with a display the platform default is used instead
    d = decide_browser(env);
    CHECK(d.launch);
    CHECK(d.argv.front() == "xdg-open");

    CHECK(transport::is_terminal_browser("/usr/bin/w3m"));
    CHECK(transport::is_terminal_browser("links2"));
    CHECK(transport::is_terminal_browser("www-browser"));
    CHECK_FALSE(transport::is_terminal_browser("/usr/bin/chromium"));
}

// A temp directory with an executable script in it, removed afterwards.
struct script_dir {
    fs::path dir;
    script_dir() {
        std::string tmpl = (fs::temp_directory_path() / "latch-browser-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
    }
    ~script_dir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string script(const std::string& name, const std::string& body) {
        auto p = dir / name;
        std::ofstream(p) << "#!/bin/sh\n" << body;
        ::chmod(p.c_str(), 0700);
        return p.string();
    }
    std::string read(const std::string& name) {
        std::ifstream in(dir / name);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

struct launch_outcome {
    error_code ec;
    diagnostics diag;
};

asio::awaitable<void> launch(browser_env env, std::string url, launch_outcome* out,
                             transport::launch_options opts = {}) {
    transport::browser_launcher launcher(co_await asio::this_coro::executor, env, opts);
    auto d = launcher.decide();
    REQUIRE(d.launch);
    out->ec = co_await launcher.async_launch(std::move(d), std::move(url), out->diag);
}

TEST_CASE("browser: BROWSER gets the URL as one argument, no shell, no inherited sockets",
          "[browser]") {
    script_dir tmp;
    auto out_file = (tmp.dir / "url").string();
    auto fds_file = (tmp.dir / "fds").string();
    auto s = tmp.script("fake-browser",
                        "printf '%s' \"$1\" > '" + out_file + "'\n"
                        "ls /proc/$$/fd > '" + fds_file + "'\n");  // no pipe: its fds would show
    auto env = browser_env::from_process();
    env.browser_var = s;
    env.ssh_session = true;  // explicitly set BROWSER is used even over SSH
    // Characters a shell would act on: if they reach the file verbatim, no shell ran.
    std::string url = "http://127.0.0.1:8765/authorize?a=1&b=two words;$(touch pwned)`id`'\"";

    asio::io_context ioc;
    asio::ip::tcp::acceptor sock(ioc, {asio::ip::address_v4::loopback(), 0});
    int sock_fd = sock.native_handle();
    launch_outcome r;
    test::run_test(ioc, launch(env, url, &r));
    CHECK_FALSE(r.ec);
    CHECK(tmp.read("url") == url);
    CHECK_FALSE(fs::exists(tmp.dir / "pwned"));
    CHECK_FALSE(fs::exists("pwned"));
    std::set<int> fds;
    std::istringstream listed(tmp.read("fds"));
    for (int fd; listed >> fd;) fds.insert(fd);
    CHECK(fds.count(0) + fds.count(1) + fds.count(2) == 3);
    // Asio sockets are not close-on-exec; the browser must not hold our listener open.
    // (dash keeps its script and saved redirections on fds >= 10.)
    CHECK(fds.count(sock_fd) == 0);
    for (int fd : fds) CHECK((fd <= 2 || fd >= 10));
}

TEST_CASE("browser: the child's environment holds none of latch's secrets", "[browser]") {
    script_dir tmp;
    auto env_file = (tmp.dir / "env").string();
    auto env = browser_env::from_process();
    env.browser_var = tmp.script("env-browser", "env > '" + env_file + "'\n");
    env.ssh_session = true;
    const char* secrets[] = {"LATCH_CLIENT_SECRET", "LATCH_PASSWORD", "LATCH_MACHINE_KEY",
                             "LATCH_SESSION_TOKEN"};
    for (const char* s : secrets) ::setenv(s, "s3cret-value", 1);
    ::setenv("LATCH_ISSUER", "https://idp.example", 1);
    asio::io_context ioc;
    launch_outcome r;
    test::run_test(ioc, launch(env, "http://127.0.0.1:1/x", &r));
    for (const char* s : secrets) ::unsetenv(s);
    ::unsetenv("LATCH_ISSUER");
    CHECK_FALSE(r.ec);
    const auto seen = tmp.read("env");
    CHECK(seen.find("LATCH_ISSUER=https://idp.example") != std::string::npos);  // the rest passes
    CHECK(seen.find("s3cret-value") == std::string::npos);
    for (const char* s : secrets) CHECK(seen.find(std::string(s) + "=") == std::string::npos);
}

TEST_CASE("browser: '%s' in a BROWSER entry places the URL", "[browser]") {
    script_dir tmp;
    auto s = tmp.script("b", "printf '%s|%s' \"$1\" \"$2\" > '" + (tmp.dir / "args").string() + "'\n");
    auto env = browser_env::from_process();
    env.browser_var = s + " %s --then";
    asio::io_context ioc;
    launch_outcome r;
    test::run_test(ioc, launch(env, "http://x/?q=1", &r));
    CHECK_FALSE(r.ec);
    CHECK(tmp.read("args") == "http://x/?q=1|--then");
}

TEST_CASE("browser: a launcher exiting 1 is browser_failed", "[browser]") {
    script_dir tmp;
    auto env = browser_env::from_process();
    env.browser_var = tmp.script("broken", "exit 1\n");
    asio::io_context ioc;
    launch_outcome r;
    test::run_test(ioc, launch(env, "http://127.0.0.1/", &r));
    CHECK(r.ec == client_errc::browser_failed);
    CHECK(r.diag.client_message.find("exited with status 1") != std::string::npos);
}

TEST_CASE("browser: a program that keeps running counts as opened after the bound",
          "[browser]") {
    script_dir tmp;
    auto env = browser_env::from_process();
    env.browser_var = tmp.script("long", "exec sleep 2\n");
    asio::io_context ioc;
    launch_outcome r;
    transport::launch_options opts;
    opts.wait_bound = std::chrono::milliseconds(100);
    auto start = std::chrono::steady_clock::now();
    test::run_test(ioc, launch(env, "http://127.0.0.1/", &r, opts));
    CHECK_FALSE(r.ec);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

asio::awaitable<void> spawn_missing(launch_outcome* out) {
    browser_decision d;
    d.launch = true;
    d.program = "/nonexistent/latch-no-such-browser";
    d.argv = {"latch-no-such-browser"};
    transport::browser_launcher launcher(co_await asio::this_coro::executor);
    out->ec = co_await launcher.async_launch(d, "http://127.0.0.1/", out->diag);
}

TEST_CASE("browser: a program that cannot be started is browser_failed", "[browser]") {
    asio::io_context ioc;
    launch_outcome r;
    test::run_test(ioc, spawn_missing(&r));
    CHECK(r.ec == client_errc::browser_failed);
    CHECK(r.diag.client_message.find("cannot start") != std::string::npos);
}

}  // namespace

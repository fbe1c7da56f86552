// latch-idp's mail sink (mail.hpp).
#include "mail.hpp"

#include <latchkey/flows/server/ops_text.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace latchkey::idp {

namespace {

namespace asio = boost::asio;

// Waits for the command `pid` without blocking the io_context: polls waitpid(WNOHANG) every
// 20 ms; after 10 s it is killed.
asio::awaitable<void> reap(pid_t pid) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);  // killed: returns at once
            std::fprintf(stderr, "latch-idp: --mail-command took longer than 10 s and was killed\n");
            co_return;
        }
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(asio::use_awaitable);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        std::fprintf(stderr, "latch-idp: --mail-command failed (status %d)\n", status);
}

// Starts argv with `input` on its stdin (a pipe; the mail is far below its buffer size) and
// stdout to /dev/null. -1 on failure.
pid_t start(const std::vector<std::string>& args, const std::string& input) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[0]);
    if (rc != 0) {
        ::close(fds[1]);
        std::fprintf(stderr, "latch-idp: --mail-command: cannot start it: %s\n", std::strerror(rc));
        return -1;
    }
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    const ssize_t n = ::write(fds[1], input.data(), input.size());
    ::close(fds[1]);
    if (n != static_cast<ssize_t>(input.size()))
        std::fprintf(stderr, "latch-idp: --mail-command: could not hand it the whole mail\n");
    return pid;
}

}  // namespace

std::string mail_json(const mail_message& m, std::int64_t now) {
    boost::json::object o{{"time", flows::server::rfc3339_utc(now)}, {"kind", m.kind}, {"to", m.to},
                          {"subject", m.subject}, {"text", m.text}, {"link", m.link}};
    return boost::json::serialize(o) + "\n";
}

mail_sink::~mail_sink() {
    if (fd_ >= 0) ::close(fd_);
}

error_code mail_sink::open_file(const std::string& path, diagnostics& diag) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || ::fchmod(fd, 0600) != 0) {
        const int e = errno;
        if (fd >= 0) ::close(fd);
        diag.client_message = "cannot open the mail file " + path + ": " + std::strerror(e);
        return error_code(e, boost::system::system_category());
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return {};
}

error_code mail_sink::set_command(const std::string& command, diagnostics& diag) {
    std::istringstream in(command);
    std::vector<std::string> args;
    for (std::string a; in >> a;) args.push_back(a);
    if (args.empty()) {
        diag.client_message = "--mail-command is empty";
        return make_error_code(boost::system::errc::invalid_argument);
    }
    argv_ = std::move(args);
    return {};
}

bool mail_sink::send(const asio::any_io_executor& ex, const mail_message& m) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string line = mail_json(m, now);
    bool ok = true;
    if (fd_ >= 0 && ::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        std::fprintf(stderr, "latch-idp: could not append a mail to --mail-file\n");
        ok = false;
    }
    if (!argv_.empty()) {
        const pid_t pid = start(argv_, line);
        if (pid < 0) return false;
        asio::co_spawn(ex, reap(pid), asio::detached);
    }
    return ok;
}

}  // namespace latchkey::idp

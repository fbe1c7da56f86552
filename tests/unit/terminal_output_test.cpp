// Issue 18 #1, print side: whatever reaches terminal_user::show or print_error (even a
// value that slipped past parse-time checks) is written without a byte that acts on the
// terminal. Asserted on the bytes written to stderr.
#include "apps/latch/terminal.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace latchkey;

namespace {

// Everything written to stderr while `f` runs.
template <class F>
std::string capture_stderr(F f) {
    char path[] = "/tmp/latch-stderr-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    std::fflush(stderr);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    f();
    std::fflush(stderr);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(fd);
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    ::unlink(path);
    return ss.str();
}

// ESC, BEL, CR, NUL and every other control byte except the line feeds we write.
bool terminal_safe(const std::string& s) {
    for (unsigned char c : s)
        if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
    return true;
}

std::size_t lines(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

const std::string hostile = std::string("X\x1b]52;c;ZXZpbA==\x07Y\r\nlatch: logged in\n") + '\0' + "Z";

}  // namespace

TEST_CASE("terminal: a hostile device prompt is written escaped", "[unit][hardening][terminal]") {
    flows::show_user s;
    s.what = flows::show_user::kind::device_code;
    s.user_code = hostile;
    s.verification_uri = "https://idp.example/" + hostile;
    s.verification_uri_complete = "https://idp.example/c" + hostile;
    cli::terminal_options o;
    o.qr = false;
    const auto out = capture_stderr([&] { cli::terminal_user(o).show(s); });
    CHECK(terminal_safe(out));
    CHECK(lines(out) == 5);  // the five lines of the prompt and no more
    CHECK(out.find("\\x1b]52;c;") != std::string::npos);
    CHECK(out.find("\nlatch: logged in") == std::string::npos);
}

TEST_CASE("terminal: browser URLs, notices and errors are written escaped",
          "[unit][hardening][terminal]") {
    cli::terminal_options o;
    flows::show_user url;
    url.what = flows::show_user::kind::browser_url;
    url.authorize_url = "https://idp.example/auth?x=" + hostile;
    flows::show_user notice;
    // A notice is ours: its line feeds are kept; the values it embeds have no LF (URLs are
    // validated at parse time) but every other control byte is still escaped.
    notice.message = "first line\nsecond " + std::string("X\x1b]0;title\x07Y\r") + '\0' + "Z";
    const auto out = capture_stderr([&] {
        cli::terminal_user(o).show(url);
        cli::terminal_user(o).show(notice);
        cli::print_error("device authorization endpoint https://idp.example/" + hostile + " failed");
    });
    CHECK(terminal_safe(out));
    CHECK(lines(out) == 2 + 2 + 1);  // our own line breaks only
    CHECK(out.find("latch: device authorization endpoint https://idp.example/X\\x1b]52") !=
          std::string::npos);
}

// Issue 17 #5: a hybrid login shows one instruction block (the browser first, the code as
// the alternative), not two competing ones; the browser URL is escaped like the rest.
TEST_CASE("terminal: the device prompt of a hybrid login is one block", "[unit][terminal]") {
    flows::show_user s;
    s.what = flows::show_user::kind::device_code;
    s.user_code = "ABCD-EFGH";
    s.verification_uri = "https://idp.example/device";
    s.browser_alternative = "https://idp.example/auth?state=\x1b[31m";
    s.expires_at = s.code_expires_at = sys_clock::now() + std::chrono::seconds{600};
    cli::terminal_options o;
    o.qr = false;
    const auto out = capture_stderr([&] { cli::terminal_user(o).show(s); });
    CHECK(terminal_safe(out));
    CHECK(out.rfind("To sign in, finish in the browser latch opened (if none opened, open this link:\n"
                    "  https://idp.example/auth?state=\\x1b[31m)\n"
                    "or open this URL in a browser:\n  https://idp.example/device\n"
                    "and enter the code: ABCD-EFGH\n"
                    "Waiting for approval (code expires in ", 0) == 0);
}

#include "terminal.hpp"

#include <latchkey/core/untrusted.hpp>

#include <boost/asio/this_coro.hpp>

#include <fmt/core.h>
#include <qrencode.h>

#include <cstdlib>
#include <termios.h>
#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;

terminal_options detect_terminal(bool no_qr) {
    terminal_options o;
    o.interactive = ::isatty(STDERR_FILENO) == 1;
    const char* nc = std::getenv("NO_COLOR");
    o.color = o.interactive && !(nc && *nc);
    o.qr = o.interactive && !no_qr;
    return o;
}

echo_off::echo_off() {
    auto saved = std::make_unique<termios>();
    if (::tcgetattr(STDIN_FILENO, saved.get()) != 0) return;
    termios t = *saved;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
    saved_ = std::move(saved);
}

echo_off::~echo_off() {
    if (!saved_) return;
    ::tcsetattr(STDIN_FILENO, TCSANOW, saved_.get());
    std::fputc('\n', stderr);  // the user's Enter was not echoed
}

std::string format_mmss(std::chrono::seconds s) {
    auto v = std::max<long long>(0, s.count());
    return fmt::format("{}:{:02}", v / 60, v % 60);
}

std::string format_duration(std::chrono::seconds s) {
    long long v = s.count();
    const char* sign = v < 0 ? "-" : "";
    v = std::llabs(v);
    if (v >= 86400) return fmt::format("{}{}d {}h", sign, v / 86400, (v % 86400) / 3600);
    if (v >= 3600) return fmt::format("{}{}h {}m", sign, v / 3600, (v % 3600) / 60);
    if (v >= 60) return fmt::format("{}{}m {}s", sign, v / 60, v % 60);
    return fmt::format("{}{}s", sign, v);
}

std::string render_qr(const std::string& text) {
    QRcode* q = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (!q) return {};
    const int w = q->width, margin = 2, size = w + 2 * margin;
    auto dark = [&](int x, int y) {
        x -= margin;
        y -= margin;
        if (x < 0 || y < 0 || x >= w || y >= w) return false;
        return (q->data[y * w + x] & 1) != 0;
    };
    // Two modules per character cell (upper/lower half blocks), light on dark terminals
    // inverted so the code reads as dark-on-light.
    std::string out;
    for (int y = 0; y < size; y += 2) {
        for (int x = 0; x < size; ++x) {
            bool top = !dark(x, y), bottom = !dark(x, y + 1);
            out += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
        }
        out += '\n';
    }
    QRcode_free(q);
    return out;
}

namespace {

// A notice is ours but embeds URLs and names: its own line breaks stay, every other
// control byte is escaped.
std::string escape_keeping_lines(std::string_view text) {
    std::string out;
    for (std::size_t start = 0;;) {
        const auto nl = text.find('\n', start);
        out += escape_terminal(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
        if (nl == std::string_view::npos) return out;
        out += '\n';
        start = nl + 1;
    }
}

// Everything in a device-code prompt comes from the IdP. The flow validated it when it was
// parsed; it is escaped here anyway, so no byte of it can act on the terminal. In a hybrid
// login the browser alternative leads the same block (issue 17 #5: one instruction).
std::string device_code_block(const flows::show_user& what) {
    std::string block = what.browser_alternative.empty()
        ? "To sign in, open this URL in a browser:\n  "
        : "To sign in, finish in the browser latch opened (if none opened, open this link:\n  " +
              escape_terminal(what.browser_alternative) + ")\nor open this URL in a browser:\n  ";
    block += escape_untrusted(what.verification_uri, max_idp_url_length) +
             "\nand enter the code: " +
             escape_untrusted(what.user_code, max_user_code_length) + "\n";
    if (!what.verification_uri_complete.empty())
        block += "  (or open " + escape_untrusted(what.verification_uri_complete, max_idp_url_length) +
                 ")\n";
    return block;
}

std::chrono::seconds left_until(std::optional<time_point> t, time_point now) {
    return t ? std::chrono::duration_cast<std::chrono::seconds>(*t - now) : std::chrono::seconds{0};
}

}  // namespace

// "code expires in 9:58" by the code's own expiry (issue 17 #10), and when latch stops
// waiting earlier (--timeout), that too.
std::string device_wait_text(std::optional<time_point> code_expires_at,
                             std::optional<time_point> gives_up_at, time_point now) {
    const auto code = code_expires_at ? code_expires_at : gives_up_at;
    std::string text = "code expires in " + format_mmss(left_until(code, now));
    if (gives_up_at && code && *gives_up_at < *code)
        text += "; latch gives up in " + format_mmss(left_until(gives_up_at, now)) + ", see --timeout";
    return text;
}

void terminal_user::show(const flows::show_user& what) {
    using kind = flows::show_user::kind;
    if (what.what == kind::device_code) {
        expires_at_ = what.expires_at;
        code_expires_at_ = what.code_expires_at;
        std::string block = device_code_block(what);
        if (!what.verification_uri_complete.empty()) {
            if (opts_.qr) block += render_qr(what.verification_uri_complete);
        }
        if (!opts_.interactive)
            block += "Waiting for approval (" +
                     device_wait_text(what.code_expires_at, what.expires_at, sys_clock::now()) + ")...\n";
        std::fputs(block.c_str(), stderr);
    } else if (what.what == kind::browser_url) {
        std::fprintf(stderr, "Open this URL in a browser to sign in:\n  %s\n",
                     escape_terminal(what.authorize_url).c_str());
    } else {
        std::fprintf(stderr, "%s\n", escape_keeping_lines(what.message).c_str());
    }
    std::fflush(stderr);
}

// One countdown line, rewritten in place (on a terminal, while a device code is shown).
// Kept out of the coroutine below: GCC 12 laid out that coroutine's frame wrong when its
// loop built this text itself (it crashed reading `clock`; STYLE.md's coroutine trap).
void terminal_user::print_countdown(time_point now) {
    if (!opts_.interactive || !expires_at_) return;
    const std::string text = device_wait_text(code_expires_at_, expires_at_, now);
    std::fprintf(stderr, "\r%sWaiting for approval... %s%s\x1b[K", opts_.color ? "\x1b[2m" : "",
                 text.c_str(), opts_.color ? "\x1b[0m" : "");
    std::fflush(stderr);
    countdown_line_ = true;
}

asio::awaitable<void> terminal_user::async_countdown(transport::clock_port& clock) {
    // Runs until cancelled by the flow it decorates finishing: it never ends the login
    // itself (the flow owns every deadline).
    for (;;) {
        const time_point now = clock.now();
        print_countdown(now);
        const time_point next = now + std::chrono::seconds{1};
        if (co_await clock.async_wait_until(next)) break;
    }
    if (countdown_line_) std::fputs("\r\x1b[K", stderr);
    countdown_line_ = false;
}

void print_error(const std::string& message) {
    std::string line = message;
    for (char& c : line)
        if (c == '\n' || c == '\r') c = ' ';
    // Messages embed URLs, names and paths that came from an IdP, a config file or the
    // command line: none of their bytes may act on the terminal.
    std::fprintf(stderr, "latch: %s\n", escape_terminal(line).c_str());
}

int exit_code_for(const error_code& ec) {
    if (!ec) return 0;
    if (ec == client_errc::cancelled) return 130;
    if (needs_login(ec)) return 77;
    return 1;
}

}  // namespace latchkey::cli

// How `latch` talks to the person at the terminal: prompts, QR code, countdown, errors.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/transport/login.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdio>
#include <memory>
#include <string>

struct termios;

namespace latchkey::cli {

struct terminal_options {
    bool qr = true;           // --no-qr turns it off
    bool interactive = false; // stderr is a TTY
    bool color = false;       // TTY and NO_COLOR unset
};
terminal_options detect_terminal(bool no_qr);

void print_error(const std::string& message);

// The user port for the CLI: writes prompts to stderr, never blocks on input.
class terminal_user final : public transport::login_user_port {
public:
    explicit terminal_user(terminal_options o) : opts_(o) {}
    void show(const flows::show_user& what) override;
    void warn(const std::string& message) override { print_error(message); }
    bool wants_countdown() const override { return true; }

    // Live countdown to `until` on a TTY (one line rewritten each second); returns when the
    // time is up or when cancelled. Plain terminals get nothing here.
    boost::asio::awaitable<void> async_countdown(transport::clock_port& clock) override;

private:
    void print_countdown(time_point now);  // one countdown line, rewritten in place

    terminal_options opts_;
    std::optional<time_point> expires_at_;       // when the login stops waiting
    std::optional<time_point> code_expires_at_;  // the device code's own expiry
    bool countdown_line_ = false;
};

// Echo off on the terminal (stdin) for as long as it lives, while a secret is typed or
// pasted; on the way out the terminal is restored and the line the user's Enter did not
// echo is ended. Does nothing when stdin is not a terminal.
class echo_off {
public:
    echo_off();
    ~echo_off();
    echo_off(const echo_off&) = delete;
    echo_off& operator=(const echo_off&) = delete;

private:
    std::unique_ptr<termios> saved_;  // null: echo was not turned off
};

// Renders `text` as a QR code with Unicode half blocks; empty on failure.
std::string render_qr(const std::string& text);

// "latch: <message>" on stderr, one line (newlines in the message are flattened):
// print_error, declared above.
// describe(ec, diag): latchkey::describe (core/error.hpp), one for library and CLI.
// 0 ok, 1 error, 77 log in again, 130 interrupted.
int exit_code_for(const error_code& ec);

std::string format_duration(std::chrono::seconds s);
// "code expires in 9:58", plus "; latch gives up in 4:58, see --timeout" when it stops earlier.
std::string device_wait_text(std::optional<time_point> code_expires_at,
                             std::optional<time_point> gives_up_at, time_point now);  // 59m 12s / 9:58 style helpers
std::string format_mmss(std::chrono::seconds s);

}  // namespace latchkey::cli

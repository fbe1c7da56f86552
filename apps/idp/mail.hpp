// latch-idp's outgoing mail (invitations), to a pluggable sink instead of SMTP:
//   serve --mail-file PATH     one JSON line per mail appended to PATH (made 0600), one write(2);
//   serve --mail-command CMD   CMD (a program and its arguments split on spaces, run without a
//                              shell) gets the mail as one JSON object on its stdin; it is
//                              killed after 10 s; its exit status is logged when not 0.
// The JSON: {"time", "kind", "to", "subject", "text", "link"}. Without a sink, mails are dropped
// (the invitation still exists; its link is in list-invitations for the inviter).
#pragma once

#include <latchkey/core/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace latchkey::idp {

struct mail_message {
    std::string kind;  // "invitation"
    std::string to, subject, text, link;
};

class mail_sink {
public:
    mail_sink() = default;
    ~mail_sink();
    mail_sink(const mail_sink&) = delete;
    mail_sink& operator=(const mail_sink&) = delete;

    // Errors: the system error, diag.client_message naming the file.
    error_code open_file(const std::string& path, diagnostics& diag);
    // Errors: invalid_argument for an empty command.
    error_code set_command(const std::string& command, diagnostics& diag);
    bool enabled() const { return fd_ >= 0 || !argv_.empty(); }

    // Hands the mail over: written to the file before returning, or the command started (its
    // end is awaited on `ex` in the background, bounded). false when that failed (logged).
    bool send(const boost::asio::any_io_executor& ex, const mail_message& m);

private:
    int fd_ = -1;
    std::vector<std::string> argv_;
};

// The JSON line of a mail (exposed for tests).
std::string mail_json(const mail_message& m, std::int64_t now);

}  // namespace latchkey::idp

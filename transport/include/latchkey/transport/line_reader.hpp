// Lines from standard input, awaited without blocking the io_context (STYLE.md "No
// blocking on the io_context"): a pasted callback URL while a browser login waits, or
// `latch login --callback-url -`.
#pragma once

#include <latchkey/core/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace latchkey::transport {

// Where pasted lines come from (a login's pasted callback URL); line_reader is the real one.
class line_source {
public:
    virtual ~line_source() = default;
    // The next line; errors as line_reader::async_read_line.
    virtual boost::asio::awaitable<std::string> async_read_line(error_code& ec) = 0;
};

class line_reader final : public line_source {
public:
    // A reader on a dup of fd 0, or nullptr when stdin cannot deliver a pasted line that
    // way: closed, /dev/null or another device that is not a terminal, or a regular file
    // (epoll cannot wait on one), or a terminal of which we are not the foreground job.
    // Terminals, pipes and sockets qualify.
    static std::unique_ptr<line_reader> open_stdin(boost::asio::any_io_executor ex);
    // The same for any descriptor (tests: a pipe). `source` stays open and ours is a dup.
    static std::unique_ptr<line_reader> open(boost::asio::any_io_executor ex, int source);

    ~line_reader() override;  // closes the dup and restores fd 0's blocking mode
    line_reader(const line_reader&) = delete;
    line_reader& operator=(const line_reader&) = delete;

    // The next line without its "\n" / "\r\n". Errors in `ec`: asio::error::eof at the end
    // of input (a last line without "\n" is still returned first); operation_aborted when
    // cancelled (terminal/partial/total), in which case what was read of the line so far
    // is kept for the next call; a line over `max_line` bytes: client_errc::bad_input
    // (the rest of that line is skipped).
    boost::asio::awaitable<std::string> async_read_line(error_code& ec) override;

    static constexpr std::size_t max_line = 64 * 1024;

    struct impl;

private:
    explicit line_reader(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

}  // namespace latchkey::transport

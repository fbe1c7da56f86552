// Awaited stdin lines (see line_reader.hpp).
#include <latchkey/transport/line_reader.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace latchkey::transport {
namespace asio = boost::asio;

struct line_reader::impl {
    impl(asio::any_io_executor ex, int fd, int flags) : in(std::move(ex), fd), saved_flags(flags) {}
    asio::posix::stream_descriptor in;
    int saved_flags;
    std::string buf;
    bool eof = false;
    bool skipping = false;  // inside an over-long line
};

std::unique_ptr<line_reader> line_reader::open_stdin(asio::any_io_executor ex) {
    return open(std::move(ex), STDIN_FILENO);
}

std::unique_ptr<line_reader> line_reader::open(asio::any_io_executor ex, int source) {
    struct stat st {};
    if (::fstat(source, &st) != 0) return nullptr;
    // A terminal only when we are its foreground job: a background read would stop the
    // whole process with SIGTTIN (`latch login &`).
    const bool tty = ::isatty(source) != 0;
    if (tty && ::tcgetpgrp(source) != ::getpgrp()) return nullptr;
    const bool usable = tty || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
    if (!usable) return nullptr;
    const int flags = ::fcntl(source, F_GETFL);
    const int fd = ::dup(source);
    if (fd < 0 || flags < 0) {
        if (fd >= 0) ::close(fd);
        return nullptr;
    }
    try {
        return std::unique_ptr<line_reader>(new line_reader(std::make_unique<impl>(ex, fd, flags)));
    } catch (const std::exception&) {
        return nullptr;  // stream_descriptor::assign failed: not pollable after all
    }
}

line_reader::line_reader(std::unique_ptr<impl> p) : p_(std::move(p)) {}

line_reader::~line_reader() {
    // Asio made the shared open file description non-blocking; the shell that started us
    // shares it (a terminal), so put the flag back as we found it.
    if (p_) ::fcntl(p_->in.native_handle(), F_SETFL, p_->saved_flags);
}

asio::awaitable<std::string> line_reader::async_read_line(error_code& ec) {
    impl& s = *p_;
    ec = {};
    for (;;) {
        if (auto nl = s.buf.find('\n'); nl != std::string::npos) {
            std::string line = s.buf.substr(0, nl);
            s.buf.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (s.skipping) {  // the tail of an over-long line, already reported
                s.skipping = false;
                continue;
            }
            if (line.size() > max_line) {
                ec = client_errc::bad_input;
                co_return std::string();
            }
            co_return line;
        }
        if (s.buf.size() > max_line) {
            s.buf.clear();
            if (!s.skipping) {
                s.skipping = true;
                ec = client_errc::bad_input;
                co_return std::string();
            }
        }
        if (s.eof) {
            ec = asio::error::eof;
            std::string last;
            if (!s.skipping) last.swap(s.buf);
            s.buf.clear();
            if (!last.empty()) ec = {};
            co_return last;
        }
        char chunk[4096];
        auto [rec, n] = co_await s.in.async_read_some(asio::buffer(chunk),
                                                      asio::as_tuple(asio::use_awaitable));
        s.buf.append(chunk, n);
        if (rec == asio::error::eof) s.eof = true;
        else if (rec) {
            ec = rec;
            co_return std::string();
        }
    }
}

}  // namespace latchkey::transport

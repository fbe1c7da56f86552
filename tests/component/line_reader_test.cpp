// transport::line_reader on a pipe: lines, CRLF, a partial line kept across a
// cancellation, the last line without "\n", EOF, over-long lines, and what it refuses.
#include "support/lifecycle_run.hpp"

#include <latchkey/transport/line_reader.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

using namespace latchkey;
namespace asio = boost::asio;

namespace {

struct pipe_rig {
    asio::io_context io;
    int fds[2] = {-1, -1};
    pipe_rig() { REQUIRE(::pipe(fds) == 0); }
    ~pipe_rig() {
        if (fds[0] >= 0) ::close(fds[0]);
        if (fds[1] >= 0) ::close(fds[1]);
    }
    void write(const std::string& s) { REQUIRE(::write(fds[1], s.data(), s.size()) == static_cast<ssize_t>(s.size())); }
    void close_writer() { ::close(fds[1]); fds[1] = -1; }
};

struct line { std::string text; error_code ec; };

asio::awaitable<line> async_line(transport::line_reader* r) {
    line l;
    l.text = co_await r->async_read_line(l.ec);
    co_return l;
}

}  // namespace

TEST_CASE("line_reader: lines, CRLF, the last line without a newline, then EOF", "[component][paste]") {
    pipe_rig p;
    auto r = transport::line_reader::open(p.io.get_executor(), p.fds[0]);
    REQUIRE(r);
    p.write("first\nsecond\r\n\nlast");
    p.close_writer();
    for (const char* want : {"first", "second", "", "last"}) {
        auto l = test::run_to_end(p.io, async_line(r.get()));
        CHECK_FALSE(l.ec);
        CHECK(l.text == want);
    }
    auto end = test::run_to_end(p.io, async_line(r.get()));
    CHECK(end.ec == asio::error::eof);
}

TEST_CASE("line_reader: a cancelled read keeps the partial line", "[component][paste]") {
    pipe_rig p;
    auto r = transport::line_reader::open(p.io.get_executor(), p.fds[0]);
    REQUIRE(r);
    p.write("http://127.0.0.1/cb?co");
    asio::cancellation_signal sig;
    std::optional<line> got;
    asio::co_spawn(p.io, async_line(r.get()),
                   asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, line l) {
                       if (!e) got = std::move(l);
                   }));
    p.io.poll();  // reads the partial line, then waits for more
    sig.emit(asio::cancellation_type::terminal);
    p.io.run();
    p.io.restart();
    REQUIRE(got);
    CHECK(got->ec == asio::error::operation_aborted);
    p.write("de=c&state=s\n");
    auto l = test::run_to_end(p.io, async_line(r.get()));
    CHECK_FALSE(l.ec);
    CHECK(l.text == "http://127.0.0.1/cb?code=c&state=s");
}

TEST_CASE("line_reader: an over-long line is reported once and skipped", "[component][paste]") {
    pipe_rig p;
    auto r = transport::line_reader::open(p.io.get_executor(), p.fds[0]);
    REQUIRE(r);
    std::string big(transport::line_reader::max_line + 10, 'x');
    // The pipe buffer is 64 KiB: write from a coroutine-free helper in pieces as it drains.
    ::fcntl(p.fds[1], F_SETFL, O_NONBLOCK);
    std::string rest = big + "\nok\n";
    auto pump = [&] {
        while (!rest.empty()) {
            auto n = ::write(p.fds[1], rest.data(), rest.size());
            if (n <= 0) break;
            rest.erase(0, static_cast<std::size_t>(n));
        }
    };
    pump();
    std::optional<line> first;
    asio::co_spawn(p.io, async_line(r.get()), [&](std::exception_ptr, line l) { first = std::move(l); });
    while (!first) {
        p.io.run_one();
        pump();
    }
    p.io.restart();
    CHECK(first->ec == client_errc::bad_input);
    std::optional<line> second;
    asio::co_spawn(p.io, async_line(r.get()), [&](std::exception_ptr, line l) { second = std::move(l); });
    while (!second) {
        p.io.run_one();
        pump();
    }
    CHECK_FALSE(second->ec);
    CHECK(second->text == "ok");
}

TEST_CASE("line_reader: regular files and /dev/null are refused", "[component][paste]") {
    asio::io_context io;
    int null_fd = ::open("/dev/null", O_RDONLY);
    REQUIRE(null_fd >= 0);
    CHECK_FALSE(transport::line_reader::open(io.get_executor(), null_fd));
    ::close(null_fd);
    int file_fd = ::open("/proc/self/exe", O_RDONLY);
    REQUIRE(file_fd >= 0);
    CHECK_FALSE(transport::line_reader::open(io.get_executor(), file_fd));
    ::close(file_fd);
    CHECK_FALSE(transport::line_reader::open(io.get_executor(), 12345));  // not open
}

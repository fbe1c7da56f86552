// Runs one awaitable to completion on an io_context (tests only).
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>

namespace latchkey::test {

template <class T>
T run_to_end(boost::asio::io_context& io, boost::asio::awaitable<T> aw) {
    std::optional<T> out;
    std::exception_ptr failure;
    auto on_done = [&out, &failure](std::exception_ptr e, T v) {
        failure = e;
        if (!e) out.emplace(std::move(v));
    };
    boost::asio::co_spawn(io, std::move(aw), on_done);
    io.restart();
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*out);
}

}  // namespace latchkey::test

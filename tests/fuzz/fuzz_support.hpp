// Shared by the libFuzzer harnesses (tests/fuzz/README.md). Each harness feeds bytes an
// attacker controls to one parser and checks the guarantees the parser makes, trapping
// (a crash libFuzzer reports) when one does not hold.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/core/token_set.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fuzz {

inline void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The part before the first `sep` and the rest (empty when there is none).
inline std::pair<std::string_view, std::string_view> split(std::string_view s, char sep = '\n') {
    const auto at = s.find(sep);
    if (at == std::string_view::npos) return {s, {}};
    return {s.substr(0, at), s.substr(at + 1)};
}

// An HTTP reply: the first byte picks the status (mostly 200/400/401, sometimes
// anything), the rest is the body.
inline latchkey::http_response reply(std::string_view in) {
    static constexpr int statuses[] = {200, 201, 400, 401, 403, 404, 500, 302};
    latchkey::http_response r;
    const auto b = in.empty() ? 0u : static_cast<unsigned char>(in.front());
    r.status = b < 0xf0 ? statuses[b % 8] : 100 + b;
    r.content_type = "application/json";
    r.body = std::string(in.empty() ? in : in.substr(1));
    return r;
}

// What a terminal may receive: printable ASCII and UTF-8, nothing below 0x20, no DEL.
inline bool terminal_safe(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

// Every message the parsers write is printed through escape_terminal (print_error); the
// server's own text through diagnostics::to_string. Both must come out terminal-safe.
inline void check_printable(const latchkey::diagnostics& d) {
    require(terminal_safe(latchkey::escape_terminal(d.client_message)), "escaped client_message");
    require(terminal_safe(d.to_string()), "diagnostics::to_string");
}

inline const latchkey::time_point fuzz_now{std::chrono::seconds{1'790'000'000}};

}  // namespace fuzz

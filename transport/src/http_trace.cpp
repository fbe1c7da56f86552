// --debug / LATCH_DEBUG=1: each HTTP request and response as lines on the trace sink, with
// every secret redacted as `69dd6f…2bc6` (core/secret.hpp): Authorization and cookie
// headers, and token / code / verifier / password / assertion / secret fields of form and
// JSON bodies and of query strings. Bodies of other types are summarised, not shown.
#include "http_internal.hpp"

#include <latchkey/core/secret.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <cstdio>
#include <string>

namespace latchkey::transport::detail {
namespace json = boost::json;

namespace {

constexpr std::size_t max_body_shown = 4096;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool contains_any(const std::string& s, std::initializer_list<std::string_view> parts) {
    for (auto p : parts)
        if (s.find(p) != std::string::npos) return true;
    return false;
}

// A field (form, JSON, query) whose value is a credential. Names that merely mention one
// and hold metadata ("token_endpoint", "token_type", "*_supported") stay readable.
bool secret_field(std::string_view name) {
    auto n = lower(name);
    for (std::string_view meta : {"_endpoint", "_supported", "_type", "_uri", "_in", "_at"})
        if (n.ends_with(meta)) return false;
    if (n == "d" || n == "p" || n == "q" || n == "dp" || n == "dq" || n == "qi" || n == "k")
        return true;  // private JWK members (RFC 7518 §6.3.2, §6.4.1)
    return contains_any(n, {"token", "code", "verifier", "password", "assertion", "secret",
                            "cookie", "session", "key"});
}

bool secret_header(std::string_view name) {
    auto n = lower(name);
    if (n == "www-authenticate" || n == "content-type") return false;
    return contains_any(n, {"auth", "cookie", "token", "secret", "key", "dpop"});
}

std::string redact_header_value(std::string_view v) {
    // Keep the scheme ("Bearer", "Basic") so the trace says what kind of credential went.
    auto sp = v.find(' ');
    if (sp != std::string_view::npos && sp < 16) return std::string(v.substr(0, sp + 1)) + redact(v.substr(sp + 1));
    return redact(v);
}

// a=1&code=xyz -> a=1&code=xyz…
std::string redact_form(std::string_view form) {
    std::string out;
    while (true) {
        auto amp = form.find('&');
        auto pair = form.substr(0, amp);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && secret_field(pair.substr(0, eq)))
            out.append(pair.substr(0, eq + 1)).append(redact(pair.substr(eq + 1)));
        else out.append(pair);
        if (amp == std::string_view::npos) break;
        out += '&';
        form.remove_prefix(amp + 1);
    }
    return out;
}

void redact_json(json::value& v, bool secret) {
    if (auto* o = v.if_object()) {
        for (auto& kv : *o) redact_json(kv.value(), secret_field(kv.key()));
    } else if (auto* a = v.if_array()) {
        for (auto& e : *a) redact_json(e, secret);
    } else if (secret && v.is_string()) {
        v = redact(v.as_string());
    }
}

std::string redact_target(std::string_view t) {
    auto q = t.find('?');
    if (q == std::string_view::npos) return std::string(t);
    return std::string(t.substr(0, q + 1)) + redact_form(t.substr(q + 1));
}

std::string describe_body(std::string_view body) {
    if (body.empty()) return {};
    json::error_code jec;
    auto v = json::parse(body, jec);
    std::string shown;
    if (!jec) {
        redact_json(v, false);
        shown = json::serialize(v);
    } else if (body.find_first_of(" \r\n\t<") == std::string_view::npos &&
               body.find('=') != std::string_view::npos) {
        shown = redact_form(body);
    } else {
        return "[" + std::to_string(body.size()) + " bytes, not shown]";
    }
    if (shown.size() > max_body_shown) shown = shown.substr(0, max_body_shown) + "…";
    return shown;
}

// For the terminal: control characters (C0, DEL and UTF-8-encoded C1) escaped as \xNN;
// printable ASCII and other UTF-8 (the redaction's "…") kept as they are.
std::string printable(std::string_view s, std::size_t max_len) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (out.size() >= max_len) return out + "…";
        auto c = static_cast<unsigned char>(s[i]);
        bool c1 = c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xa0 &&
                  static_cast<unsigned char>(s[i + 1]) >= 0x80;
        if (c < 0x20 || c == 0x7f || c1) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

void trace_lines(const http_options& o, char direction, std::string_view wire,
                 std::string_view note) {
    if (!o.trace) return;
    const std::string prefix{direction, ' '};
    auto end = wire.find("\r\n\r\n");
    std::string_view head = wire.substr(0, end);
    std::string_view body = end == std::string_view::npos ? std::string_view{} : wire.substr(end + 4);
    bool first = true;
    while (!head.empty()) {
        auto eol = head.find("\r\n");
        auto line = head.substr(0, eol);
        head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
        std::string shown;
        if (first) {  // request line: METHOD target HTTP/1.1, or a status line
            auto sp = line.find(' ');
            auto sp2 = line.rfind(' ');
            shown = direction == '>' && sp != sp2
                        ? std::string(line.substr(0, sp + 1)) +
                              redact_target(line.substr(sp + 1, sp2 - sp - 1)) +
                              std::string(line.substr(sp2))
                        : std::string(line);
            if (!note.empty()) shown += " (" + std::string(note) + ")";
            first = false;
        } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
            auto name = line.substr(0, colon);
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            std::string v = secret_header(name) ? redact_header_value(value)
                            : lower(name) == "location" ? redact_target(value)
                                                        : std::string(value);
            shown = std::string(name) + ": " + v;
        } else {
            shown = std::string(line);
        }
        o.trace(prefix + printable(shown, 2048));
    }
    if (auto b = describe_body(body); !b.empty()) o.trace(prefix + printable(b, max_body_shown + 8));
}

void trace_response(const http_options& o, const http_response& r, std::string_view note) {
    if (!o.trace) return;
    std::string wire = "HTTP/1.1 " + std::to_string(r.status) + "\r\n";
    for (const auto& [name, value] : r.headers) wire += name + ": " + value + "\r\n";
    wire += "\r\n";
    wire += r.body;
    trace_lines(o, '<', wire, note);
}

}  // namespace latchkey::transport::detail

// latch-idp operations, the pure parts: the Prometheus text writer, the audit line, the
// route names /metrics counts by, the page the counters render to, the audit file's mode.
#include <latchkey/flows/server/ops_text.hpp>

#include "apps/idp/ops.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace latchkey::flows::server;

namespace {

// Every line: a HELP/TYPE comment or `name{label="value",...} value` (text format 0.0.4).
bool valid_prometheus(const std::string& text) {
    static const std::regex comment(R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
    static const std::regex sample(
        R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN))");
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (!std::regex_match(line, comment) && !std::regex_match(line, sample)) {
            UNSCOPED_INFO("bad line: " << line);
            return false;
        }
    }
    return n > 0 && text.back() == '\n';
}

}  // namespace

TEST_CASE("Prometheus text: families, labels escaped, values", "[unit][server][ops]") {
    prometheus_text t;
    t.family("x_total", "counter", "Things.\nMore \\ things.");
    t.sample("x_total", {{"route", "a\"b\\c\nd"}}, std::uint64_t{42});
    t.sample("x_total", {}, std::uint64_t{0});
    t.family("g", "gauge", "A gauge.");
    t.sample("g", {{"a", "1"}, {"b", "2"}}, 0.25);
    CHECK(t.text() ==
          "# HELP x_total Things.\\nMore \\\\ things.\n# TYPE x_total counter\n"
          "x_total{route=\"a\\\"b\\\\c\\nd\"} 42\nx_total 0\n"
          "# HELP g A gauge.\n# TYPE g gauge\ng{a=\"1\",b=\"2\"} 0.25\n");
    CHECK(valid_prometheus(t.text()));
}

TEST_CASE("Prometheus text: a histogram is cumulative and ends with +Inf, sum, count", "[unit][server][ops]") {
    prometheus_text t;
    const double bounds[] = {0.01, 0.1, 1};
    const std::uint64_t counts[] = {3, 0, 2, 1};
    t.family("d_seconds", "histogram", "Durations.");
    t.histogram("d_seconds", {{"route", "token"}}, bounds, counts, 2.5);
    CHECK(t.text() ==
          "# HELP d_seconds Durations.\n# TYPE d_seconds histogram\n"
          "d_seconds_bucket{route=\"token\",le=\"0.01\"} 3\nd_seconds_bucket{route=\"token\",le=\"0.1\"} 3\n"
          "d_seconds_bucket{route=\"token\",le=\"1\"} 5\nd_seconds_bucket{route=\"token\",le=\"+Inf\"} 6\n"
          "d_seconds_sum{route=\"token\"} 2.5\nd_seconds_count{route=\"token\"} 6\n");
    CHECK(valid_prometheus(t.text()));
    CHECK(prometheus_number(5) == "5");
    CHECK(prometheus_number(0.001) == "0.001");
}

TEST_CASE("Audit line: one JSON object per line, hostile values escaped, empty fields left out",
          "[unit][server][ops]") {
    audit_event e;
    e.time = 1796020120;  // 2026-11-30T06:28:40Z
    e.event = "sign_in";
    e.outcome = "failure";
    e.username = "eve\n{\"event\":\"forged\"}\x1b[31m\xff";
    e.ip = "127.0.0.1";
    e.method = "password";
    const auto line = audit_line(e);
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);  // the forged newline is escaped
    for (char c : line.substr(0, line.size() - 1)) CHECK(static_cast<unsigned char>(c) >= 0x20);
    auto v = boost::json::parse(line).as_object();
    CHECK(v.at("time").as_string() == "2026-11-30T06:28:40Z");
    CHECK(v.at("event").as_string() == "sign_in");
    CHECK(v.at("outcome").as_string() == "failure");
    CHECK(v.at("username").as_string() == "eve\n{\"event\":\"forged\"}\x1b[31m\xEF\xBF\xBD");
    CHECK(!v.contains("user_id"));
    CHECK(!v.contains("client_id"));
    CHECK(rfc3339_utc(0) == "1970-01-01T00:00:00Z");
}

TEST_CASE("Ops routes: fixed names, never the request's path", "[unit][server][ops]") {
    using latchkey::idp::route;
    using latchkey::idp::route_of;
    CHECK(route_of("/oauth2/token") == route::token);
    CHECK(route_of("/api/auth/get-session") == route::get_session);
    CHECK(route_of("/oauth2/register/machine-abc") == route::registration);
    CHECK(route_of("/api/auth/two-factor/verify-totp") == route::two_factor);
    CHECK(route_of("/api/auth/list-sessions") == route::auth_other);
    CHECK(route_of("/secret-user-path?alice") == route::not_found);
    CHECK(latchkey::idp::route_name(route::device_page) == "device_page");
}

TEST_CASE("Ops metrics page: counters by route and class, latency buckets, valid text", "[unit][server][ops]") {
    using namespace latchkey::idp;
    idp_metrics m;
    m.observe(route::token, 200, 1500);      // 1.5 ms
    m.observe(route::token, 401, 30);
    m.observe(route::sign_in, 503, 9000000);  // 9 s: past the last bound
    m.login_failures[static_cast<std::size_t>(login_method::password)].fetch_add(1);
    const auto page = render_metrics(m, {2, 64, 1, 3});
    CHECK(valid_prometheus(page));
    CHECK(page.find("latch_idp_http_requests_total{route=\"token\",code=\"2xx\"} 1\n") != std::string::npos);
    CHECK(page.find("latch_idp_http_requests_total{route=\"token\",code=\"4xx\"} 1\n") != std::string::npos);
    CHECK(page.find("latch_idp_http_requests_total{route=\"sign_in\",code=\"5xx\"} 1\n") != std::string::npos);
    CHECK(page.find("latch_idp_http_request_duration_seconds_bucket{route=\"token\",le=\"0.001\"} 1\n") !=
          std::string::npos);
    CHECK(page.find("latch_idp_http_request_duration_seconds_bucket{route=\"token\",le=\"0.0025\"} 2\n") !=
          std::string::npos);
    CHECK(page.find("latch_idp_http_request_duration_seconds_bucket{route=\"sign_in\",le=\"5\"} 0\n") !=
          std::string::npos);
    CHECK(page.find("latch_idp_http_request_duration_seconds_count{route=\"sign_in\"} 1\n") != std::string::npos);
    CHECK(page.find("latch_idp_login_failures_total{method=\"password\"} 1\n") != std::string::npos);
    CHECK(page.find("latch_idp_hashing_in_flight 2\n") != std::string::npos);
    CHECK(page.find("latch_idp_db_queued 1\n") != std::string::npos);
}

TEST_CASE("Audit log file: made 0600 (an existing one narrowed), appended, one line per event",
          "[unit][server][ops]") {
    namespace fsys = std::filesystem;
    const auto dir = fsys::temp_directory_path() / ("latch-audit-" + std::to_string(::getpid()));
    fsys::create_directories(dir);
    const auto path = (dir / "audit.log").string();
    { std::ofstream(path) << "{\"old\":1}\n"; }
    ::chmod(path.c_str(), 0644);
    latchkey::diagnostics diag;
    {
        latchkey::idp::audit_log log;
        REQUIRE(!log.open(path, diag));
        audit_event e;
        e.time = 1;
        e.event = "sign_up";
        CHECK(log.write(e));
        CHECK(log.write(e));
    }
    struct stat sb {};
    REQUIRE(::stat(path.c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0600);
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    CHECK(all == "{\"old\":1}\n{\"time\":\"1970-01-01T00:00:01Z\",\"event\":\"sign_up\"}\n"
                 "{\"time\":\"1970-01-01T00:00:01Z\",\"event\":\"sign_up\"}\n");
    latchkey::idp::audit_log bad;
    CHECK(bad.open((dir / "no" / "such" / "dir").string(), diag));
    CHECK(diag.client_message.find("cannot open the audit log") != std::string::npos);
    fsys::remove_all(dir);
}

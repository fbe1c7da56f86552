// latch-idp user codes (RFC 8628 §6.1): length from the limits, alphabet, normalisation.
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/user_code.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>

using namespace latchkey::flows::server;
using namespace std::chrono_literals;

TEST_CASE("user code length meets 2^-32 for the default limits, and not one shorter", "[unit][server][user_code]") {
    user_code_limits limits;  // 60/min, 10 min, 1000 pending
    auto len = user_code_length(limits);
    REQUIRE(len.has_value());
    // G = 600 guesses, P = 1000 codes: 6e5 / 20^L <= 2^-32  ->  L >= 11.25.
    CHECK(*len == 12);
    CHECK(log2_guess_probability(limits, *len) <= -32.0);
    CHECK(log2_guess_probability(limits, *len - 1) > -32.0);
    const double p = 600.0 * 1000.0 / std::pow(20.0, static_cast<double>(*len));
    CHECK(p <= std::pow(2.0, -32));
}

TEST_CASE("user code length grows with every limit", "[unit][server][user_code]") {
    user_code_limits small{10, 300s, 10};
    user_code_limits big{1000, 1800s, 100000};
    auto a = user_code_length(small);
    auto b = user_code_length(big);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(*a < *b);
    CHECK(guess_budget(small) == 50);
    CHECK(guess_budget(big) == 30000);
    CHECK(guess_budget({60, 61s, 1}) == 120);  // a started minute counts whole
}

TEST_CASE("limits that cannot work are refused at start-up", "[unit][server][user_code]") {
    CHECK(user_code_length({0, 600s, 10}).error() == server_errc::bad_config);
    CHECK(user_code_length({60, 0s, 10}).error() == server_errc::bad_config);
    CHECK(user_code_length({60, 600s, 0}).error() == server_errc::bad_config);
    // 2^119 guesses against 2^50 codes: no length up to 32 characters is enough.
    CHECK(user_code_length({UINT64_C(1) << 50, 86400s * 365, UINT64_C(1) << 50}).error() ==
          server_errc::bad_config);
}

TEST_CASE("user codes use only the base-20 alphabet, roughly uniformly", "[unit][server][user_code]") {
    std::map<char, int> counts;
    std::set<std::string> codes;
    for (int i = 0; i < 2000; ++i) {
        auto c = make_user_code(10);
        REQUIRE(c.size() == 10);
        for (char ch : c) {
            REQUIRE(user_code_alphabet.find(ch) != std::string_view::npos);
            ++counts[ch];
        }
        codes.insert(c);
    }
    CHECK(codes.size() == 2000);
    CHECK(counts.size() == 20);
    for (auto& [ch, n] : counts) CHECK((n > 700 && n < 1300));  // expected 1000 each
}

TEST_CASE("user codes display in groups of four and normalise what users type", "[unit][server][user_code]") {
    CHECK(format_user_code("BCDFGHJKLM") == "BCDF-GHJK-LM");
    CHECK(format_user_code("BCDF") == "BCDF");
    CHECK(normalize_user_code("bcdf-ghjk lm") == "BCDFGHJKLM");
    CHECK(normalize_user_code(" BCDF.GHJK ") == "BCDFGHJK");
    CHECK(normalize_user_code("BCDA") == "");    // a vowel: not from our alphabet
    CHECK(normalize_user_code("BC1D") == "");    // a digit
    CHECK(normalize_user_code("BC%00") == "");
    CHECK(normalize_user_code(std::string(100, 'B')) == "");  // absurd lengths stop early
}

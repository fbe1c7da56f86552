// Dynamic Client Registration (RFC 7591/7592) requests and replies, the machine store and
// key files, and the Date-header clock skew check.
#include "jose_test_support.hpp"
#include "test_support.hpp"

#include <latchkey/core/machine_store.hpp>
#include <latchkey/core/registration.hpp>

#include <boost/json/parse.hpp>

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace jose_test;
using unit_test::header_of;
using unit_test::json_reply;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        char tmpl[] = "/tmp/latch-machine-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { std::error_code ec; fs::remove_all(path, ec); }
};

void write_file(const fs::path& p, std::string_view text, unsigned mode) {
    std::ofstream(p, std::ios::binary) << text;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("registration body: private_key_jwt, no redirects, the public key only", "[unit][registration]") {
    EVP_PKEY* key = shared_key(key_type::ec_p256);
    machine_metadata m;
    m.client_name = "ci-runner";
    auto body = registration_body(m, key);
    REQUIRE(body.has_value());
    auto o = json::parse(*body).as_object();
    CHECK(o.at("client_name") == "ci-runner");
    CHECK(o.at("token_endpoint_auth_method") == "private_key_jwt");
    CHECK(o.at("token_endpoint_auth_signing_alg") == "ES256");
    CHECK(o.at("grant_types").as_array() == json::array{"client_credentials"});
    CHECK(o.at("response_types").as_array().empty());
    CHECK_FALSE(o.contains("client_id"));       // the IdP assigns it
    CHECK_FALSE(o.contains("client_secret"));
    CHECK_FALSE(o.contains("redirect_uris"));
    const auto& k = o.at("jwks").at("keys").as_array().at(0).as_object();
    CHECK(k.at("kty") == "EC");
    CHECK(k.at("kid").as_string() == jwk_thumbprint(key).value());
    CHECK_FALSE(k.contains("d"));  // never the private part

    m.client_id = "m-1";  // an RFC 7592 update names the client
    auto update = json::parse(*registration_body(m, shared_key(key_type::rsa_2048))).as_object();
    CHECK(update.at("client_id") == "m-1");
    CHECK(update.at("token_endpoint_auth_signing_alg") == "RS256");
    CHECK_FALSE(update.at("jwks").at("keys").as_array().at(0).as_object().contains("d"));
}

TEST_CASE("registration requests carry the bearer and JSON; only management is idempotent", "[unit][registration]") {
    secret iat{"initial-token"};
    auto post = make_registration_request("https://idp/reg", "{}", iat);
    CHECK(post.method == http_method::post);
    CHECK(header_of(post, "Authorization") == "Bearer initial-token");
    CHECK(header_of(post, "Content-Type") == "application/json");
    CHECK_FALSE(post.idempotent);  // a replayed POST registers a second client

    secret rat{"rat"};
    auto get = make_registration_read("https://idp/reg/m-1", rat);
    CHECK(get.method == http_method::get);
    CHECK(header_of(get, "Authorization") == "Bearer rat");
    auto put = make_registration_update("https://idp/reg/m-1", "{\"a\":1}", rat);
    CHECK(put.method == http_method::put);
    CHECK(put.body == "{\"a\":1}");
    CHECK(put.idempotent);
    auto del = make_registration_delete("https://idp/reg/m-1", rat);
    CHECK(del.method == http_method::delete_);
    CHECK(del.body.empty());
}

TEST_CASE("registration responses: the client, the management token, the errors", "[unit][registration]") {
    diagnostics diag;
    auto ok = parse_registration_response(json_reply(201, R"({
        "client_id": "m-42", "client_name": "ci", "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"], "client_id_issued_at": 1700000000,
        "jwks": {"keys": [{"kty": "EC", "kid": "k1"}, {"kty": "EC"}]},
        "registration_access_token": "rat-1", "registration_client_uri": "https://idp/reg/m-42"})"), diag);
    REQUIRE(ok.has_value());
    CHECK(ok->client_id == "m-42");
    CHECK(ok->client_name == "ci");
    CHECK(ok->token_endpoint_auth_method == "private_key_jwt");
    CHECK(ok->kids == std::vector<std::string>{"k1", ""});
    CHECK(ok->registration_access_token.reveal() == "rat-1");
    CHECK(ok->registration_client_uri == "https://idp/reg/m-42");
    CHECK(ok->client_id_issued_at == sys_clock::from_time_t(1700000000));
    CHECK_FALSE(ok->issued_client_secret);

    diagnostics refused;
    auto bad = parse_registration_response(json_reply(400,
        R"({"error":"invalid_client_metadata","error_description":"jwks must\ncontain keys"})"), refused);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error() == oauth_errc::invalid_client_metadata);
    CHECK(refused.client_message.find("HTTP 400") != std::string::npos);
    CHECK(refused.server_message == "jwks must\ncontain keys");  // kept raw; escaped when printed
    CHECK(refused.to_string().find('\n') == std::string::npos);

    diagnostics gone;  // RFC 7592 §2.1: a deleted client reads as 401 invalid_token
    auto missing = parse_registration_response(json_reply(401, R"({"error":"invalid_token"})"), gone);
    CHECK(missing.error() == oauth_errc::invalid_token);
    diagnostics bare;
    CHECK(parse_registration_response(json_reply(404, ""), bare).error() == oauth_errc::invalid_token);
    CHECK(parse_registration_response(json_reply(500, "oops"), bare).error() == client_errc::bad_http_status);
    CHECK(parse_registration_response(json_reply(201, "<html>"), bare).error() == client_errc::bad_json);
    CHECK(parse_registration_response(json_reply(201, "{}"), bare).error() == client_errc::missing_field);

    diagnostics d;
    CHECK_FALSE(parse_deletion_response(json_reply(204, ""), d));
    CHECK(parse_deletion_response(json_reply(401, R"({"error":"invalid_token"})"), d) == oauth_errc::invalid_token);
}

TEST_CASE("clock skew from the Date header", "[unit][registration]") {
    auto date = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
    REQUIRE(date);
    CHECK(sys_clock::to_time_t(*date) == 784111777);
    CHECK_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));  // obsolete forms: no guess
    CHECK_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
    CHECK_FALSE(parse_http_date(""));

    http_response r;
    r.headers.emplace_back("date", "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(*server_clock_skew(r, *date) == std::chrono::seconds{0});
    CHECK(*server_clock_skew(r, *date + std::chrono::milliseconds{900}) == std::chrono::seconds{0});
    CHECK(*server_clock_skew(r, *date - std::chrono::minutes{3}) == std::chrono::seconds{180});  // server ahead
    CHECK(*server_clock_skew(r, *date + std::chrono::seconds{40}) == std::chrono::seconds{-40});
    CHECK_FALSE(server_clock_skew(http_response{}, *date));
}

TEST_CASE("machine ids become safe file names", "[unit][registration]") {
    CHECK(machine_file_stem("DA3c8-_x.y") == "DA3c8-_x.y");
    for (std::string_view bad : {"../../etc/passwd", ".hidden", "", "a/b", "ü"}) {
        auto stem = machine_file_stem(bad);
        CHECK(stem.size() == 34);
        CHECK(stem.rfind("m-", 0) == 0);
        CHECK(stem.find('/') == std::string::npos);
    }
    CHECK(machine_file_stem("a/b") != machine_file_stem("a/c"));
}

TEST_CASE("machine store: records and keys at 0600 in a 0700 directory", "[unit][registration]") {
    temp_dir home;
    machine_store ms(home.path);
    machine_record m;
    m.machine_id = "m-1";
    m.name = "ci";
    m.issuer = "https://idp";
    m.key_type = "ec-p256";
    m.kid = "k";
    m.registration_access_token = secret{"rat"};
    m.registration_client_uri = "https://idp/reg/m-1";
    diagnostics diag;
    REQUIRE_FALSE(ms.save(m, diag));
    REQUIRE_FALSE(ms.save_key("m-1", secret{"PEM"}, diag));
    struct stat st{};
    REQUIRE(::stat(ms.dir().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(ms.key_path("m-1").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(ms.record_path("m-1").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    auto by_name = ms.find("ci", diag);
    REQUIRE(by_name.has_value());
    REQUIRE(*by_name);
    CHECK((*by_name)->registration_access_token.reveal() == "rat");
    m.machine_id = "m-2";
    REQUIRE_FALSE(ms.save(m, diag));
    CHECK(ms.find("ci", diag).error() == client_errc::bad_input);  // two named "ci"
    CHECK(ms.find("m-2", diag).has_value());
    CHECK(*ms.remove("m-1", diag));
    CHECK_FALSE(*ms.remove("m-1", diag));
    CHECK(ms.list(diag)->size() == 1);

    write_file(ms.dir() / "broken.json", "{not json", 0600);
    diagnostics corrupt;
    CHECK(ms.list(corrupt).error() == client_errc::store_corrupt);
    CHECK(corrupt.client_message.find("broken.json") != std::string::npos);
}

TEST_CASE("key files: missing, loose modes and non-files are refused with the reason", "[unit][registration]") {
    temp_dir dir;
    const auto key = dir.path / "key.pem";
    diagnostics diag;
    CHECK(read_private_key_file(key, diag).error() == client_errc::key_error);
    CHECK(diag.client_message == "the machine key file " + key.string() + " does not exist");

    write_file(key, "PEM TEXT", 0644);
    diagnostics loose;
    CHECK(read_private_key_file(key, loose).error() == client_errc::key_error);
    CHECK(loose.client_message == "the machine key file " + key.string() + " has mode 0644: other users "
                                  "can read or change it; run `chmod 600 " + key.string() +
                                  "` (latch refuses keys with looser modes)");
    REQUIRE(::chmod(key.c_str(), 0620) == 0);
    CHECK(read_private_key_file(key, loose).error() == client_errc::key_error);

    REQUIRE(::chmod(key.c_str(), 0600) == 0);
    auto ok = read_private_key_file(key, diag);
    REQUIRE(ok.has_value());
    CHECK(ok->reveal() == "PEM TEXT");
    CHECK(::chmod(key.c_str(), 0400) == 0);
    CHECK(read_private_key_file(key, diag).has_value());

    diagnostics notfile;
    CHECK(read_private_key_file(dir.path, notfile).error() == client_errc::key_error);
    CHECK(notfile.client_message.find("not a regular file") != std::string::npos);
}

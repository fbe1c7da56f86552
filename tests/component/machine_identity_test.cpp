// transport::machine_identities against a scripted IdP: what the IdP received and what the
// machine store holds after registration (RFC 7591), rotation (RFC 7592 §2.2) and deletion.
#include "support/fakes.hpp"
#include "support/test_cert.hpp"
#include "support/test_server.hpp"

#include <latchkey/core/jwk.hpp>
#include <latchkey/transport/machine_identity.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

using namespace latchkey;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using transport::machine_step;

namespace {

const time_point t0 = sys_clock::from_time_t(1'790'000'000);
const std::string issuer = "https://idp.example";
const std::string reg_url = "https://idp.example/reg";
const std::string client_uri = "https://idp.example/reg/m-1";

std::string discovery_doc(bool with_registration = true) {
    json::object o{{"issuer", issuer}, {"token_endpoint", issuer + "/token"}};
    if (with_registration) o["registration_endpoint"] = reg_url;
    return json::serialize(o);
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

unsigned mode_of(const fs::path& p) { return unsigned(fs::status(p).permissions() & fs::perms::mask); }

// The kid of the (one) key a registration or update sent.
std::string sent_kid(const http_request& r) {
    return std::string(json::parse(r.body).at("jwks").at("keys").as_array().at(0).at("kid").as_string());
}

std::string thumbprint_of_pem(const std::string& pem) {
    diagnostics d;
    auto key = read_private_key_pem(pem, d);
    REQUIRE(key.has_value());
    return jwk_thumbprint(key->get()).value();
}

// What an IdP answers to a registration or an update: the metadata it was sent, with the
// id and the management credentials it assigns.
test::scripted_reply registered(const http_request& r, int status, std::string rat = "rat-1") {
    auto o = json::parse(r.body).as_object();
    o["client_id"] = "m-1";
    o["registration_access_token"] = std::move(rat);
    o["registration_client_uri"] = client_uri;
    return test::json_reply(status, json::serialize(o));
}

// Runs one operation of the use case to completion on `io` and returns its result.
template <class T>
asio::awaitable<void> async_store_into(asio::awaitable<T> op, T* out) {
    *out = co_await std::move(op);
}
template <class T>
T run(asio::io_context& io, asio::awaitable<T> op) {
    T out{};
    test::run_test(io, async_store_into(std::move(op), &out));
    return out;
}

struct rig {
    asio::io_context io;
    test::fake_http http{io.get_executor()};
    test::fake_clock clock{io.get_executor(), t0};
    transport::client_services client{http, clock};
    test::temp_dir home;
    transport::machine_identities machines{client, machine_store(home.path())};
    diagnostics diag;

    const machine_store& store() const { return machines.store(); }
    std::optional<machine_record> record() {
        diagnostics d;
        auto m = store().find("m-1", d);
        REQUIRE(m.has_value());
        return *m;
    }

    // Registers machine m-1 (the discovery and registration answered as an IdP would).
    void add(transport::machine_add_params p = {}) {
        http.push_json(200, discovery_doc());
        http.fallback = [](const http_request& r) { return registered(r, 201); };
        if (p.issuer.empty()) p.issuer = issuer;
        if (p.bearer.empty()) p.bearer = secret{"iat-1"};
        auto out = run(io, machines.async_add(std::move(p), diag));
        REQUIRE_FALSE(out.ec);
        http.fallback = nullptr;
        http.requests.clear();
    }
};

}  // namespace

TEST_CASE("machine add: the IdP gets a private_key_jwt registration with the public key only; the store holds key and record",
          "[component][machine]") {
    rig r;
    test::temp_dir out_dir;
    const auto copy = out_dir.path() / "ci.pem";
    r.http.push_json(200, discovery_doc());
    r.http.fallback = [](const http_request& q) { return registered(q, 201); };
    transport::machine_add_params p;
    p.issuer = issuer;
    p.name = "ci-runner";
    p.bearer = secret{"iat-1"};
    p.key_copy = copy;
    auto out = run(r.io, r.machines.async_add(std::move(p), r.diag));
    REQUIRE_FALSE(out.ec);
    CHECK(out.step == machine_step::done);
    CHECK(out.key_description == "EC P-256");
    CHECK(out.key_file == r.store().key_path("m-1"));
    CHECK(out.registration.registration_access_token.reveal() == "rat-1");

    REQUIRE(r.http.requests.size() == 2);
    const auto& reg = r.http.requests[1];
    CHECK(reg.method == http_method::post);
    CHECK(reg.url == reg_url);
    CHECK(test::header_of(reg, "Authorization") == "Bearer iat-1");
    auto body = json::parse(reg.body).as_object();
    CHECK(body.at("client_name") == "ci-runner");
    CHECK(body.at("token_endpoint_auth_method") == "private_key_jwt");
    CHECK_FALSE(body.contains("client_secret"));
    const auto& keys = body.at("jwks").at("keys").as_array();
    REQUIRE(keys.size() == 1);
    CHECK_FALSE(keys[0].as_object().contains("d"));  // never the private half
    const auto kid = sent_kid(reg);

    auto m = r.record();
    REQUIRE(m);
    CHECK(m->issuer == issuer);
    CHECK(m->name == "ci-runner");
    CHECK(m->key_type == "ec-p256");
    CHECK(m->kid == kid);
    CHECK(m->created_at == t0);
    CHECK(m->registration_client_uri == client_uri);
    CHECK(m->registration_access_token.reveal() == "rat-1");
    const auto pem = read_text(r.store().key_path("m-1"));
    CHECK(thumbprint_of_pem(pem) == kid);  // the stored key is the registered one
    CHECK(mode_of(r.store().key_path("m-1")) == 0600);
    CHECK(read_text(copy) == pem);
    CHECK(mode_of(copy) == 0600);
}

TEST_CASE("machine add: no registration endpoint, a refused bearer, a lost answer: nothing stored", "[component][machine]") {
    rig r;
    transport::machine_add_params p;
    p.issuer = issuer;
    p.bearer = secret{"wrong"};
    SECTION("no registration_endpoint: no registration request") {
        r.http.push_json(200, discovery_doc(false));
        auto out = run(r.io, r.machines.async_add(p, r.diag));
        CHECK(out.ec == client_errc::endpoint_missing);
        CHECK(out.step == machine_step::prepare);
        CHECK(r.http.requests.size() == 1);
        CHECK(r.diag.client_message.find("does not offer Dynamic Client Registration") != std::string::npos);
    }
    SECTION("401 invalid_token: refused, the IdP's reason kept apart") {
        r.http.push_json(200, discovery_doc());
        r.http.push_json(401, R"({"error":"invalid_token","error_description":"bad bearer"})");
        auto out = run(r.io, r.machines.async_add(p, r.diag));
        CHECK(out.ec == oauth_errc::invalid_token);
        CHECK(out.step == machine_step::idp_refused);
        CHECK(test::header_of(r.http.requests.at(1), "Authorization") == "Bearer wrong");
        CHECK(r.diag.server_message == "bad bearer");
    }
    SECTION("the connection drops: no answer") {
        r.http.push_json(200, discovery_doc());
        r.http.push(test::transport_error(client_errc::connection_failed));
        auto out = run(r.io, r.machines.async_add(p, r.diag));
        CHECK(out.ec == client_errc::connection_failed);
        CHECK(out.step == machine_step::idp_silent);
    }
    diagnostics d;
    CHECK(r.store().list(d).value().empty());
    CHECK_FALSE(fs::exists(r.store().dir() / "m-1.pem"));
}

TEST_CASE("machine add: an existing --key-out file is never overwritten; the machine is still stored", "[component][machine]") {
    rig r;
    test::temp_dir out_dir;
    const auto copy = out_dir.path() / "taken.pem";
    std::ofstream(copy) << "someone's key";
    r.http.push_json(200, discovery_doc());
    r.http.fallback = [](const http_request& q) { return registered(q, 201); };
    transport::machine_add_params p;
    p.issuer = issuer;
    p.bearer = secret{"iat-1"};
    p.key_copy = copy;
    auto out = run(r.io, r.machines.async_add(std::move(p), r.diag));
    CHECK(out.ec == client_errc::key_error);
    CHECK(out.step == machine_step::key_copy);
    CHECK(read_text(copy) == "someone's key");
    CHECK(r.diag.client_message.find("never overwrites") != std::string::npos);
    CHECK(r.record());
    CHECK(fs::exists(r.store().key_path("m-1")));
}

TEST_CASE("machine add: registered at the IdP but the store cannot be written: the step says so, with the machine id",
          "[component][machine]") {
    rig r;
    std::ofstream(r.store().dir()) << "not a directory";
    r.http.push_json(200, discovery_doc());
    r.http.fallback = [](const http_request& q) { return registered(q, 201); };
    transport::machine_add_params p;
    p.issuer = issuer;
    p.bearer = secret{"iat-1"};
    auto out = run(r.io, r.machines.async_add(std::move(p), r.diag));
    CHECK(out.ec);
    CHECK(out.step == machine_step::store);
    CHECK(out.record.machine_id == "m-1");  // what the caller names: it exists at the IdP
    CHECK(r.http.requests.size() == 2);
    CHECK(fs::is_regular_file(r.store().dir()));
}

TEST_CASE("machine rotate: the update carries the full metadata and the new key; the store then holds only the new key",
          "[component][machine]") {
    rig r;
    transport::machine_add_params p;
    p.name = "rotating";
    r.add(std::move(p));
    const auto old_kid = r.record()->kid;
    r.clock.advance(std::chrono::hours{24});
    r.http.fallback = [](const http_request& q) { return registered(q, 200, "rat-2"); };
    transport::machine_rotate_params rp;
    rp.key_type = "rsa-2048";
    auto out = run(r.io, r.machines.async_rotate(*r.record(), rp, r.diag));
    REQUIRE_FALSE(out.ec);
    CHECK(out.key_description == "RSA");

    REQUIRE(r.http.requests.size() == 1);
    const auto& put = r.http.requests[0];
    CHECK(put.method == http_method::put);
    CHECK(put.url == client_uri);
    CHECK(test::header_of(put, "Authorization") == "Bearer rat-1");
    auto body = json::parse(put.body).as_object();
    CHECK(body.at("client_id") == "m-1");  // RFC 7592 §2.2
    CHECK(body.at("client_name") == "rotating");
    const auto new_kid = sent_kid(put);
    CHECK(new_kid != old_kid);

    auto m = r.record();
    CHECK(m->kid == new_kid);
    CHECK(m->key_type == "rsa-2048");
    CHECK(m->key_created_at == t0 + std::chrono::hours{24});
    CHECK(m->created_at == t0);
    CHECK(m->registration_access_token.reveal() == "rat-2");  // the IdP may rotate it too
    CHECK(thumbprint_of_pem(read_text(r.store().key_path("m-1"))) == new_kid);
    CHECK_FALSE(fs::exists(r.store().key_path("m-1").string() + ".new"));
}

TEST_CASE("machine rotate: the update's answer was lost: both keys kept, the record unchanged", "[component][machine]") {
    rig r;
    r.add();
    const auto before = r.record();
    const auto old_pem = read_text(r.store().key_path("m-1"));
    r.http.push(test::transport_error(client_errc::connection_failed));
    auto out = run(r.io, r.machines.async_rotate(*before, {}, r.diag));
    CHECK(out.ec == client_errc::connection_failed);
    CHECK(out.step == machine_step::idp_silent);
    CHECK(out.key_file == r.store().key_path("m-1"));
    CHECK(out.pending_file == out.key_file.string() + ".new");
    REQUIRE(r.http.requests.size() == 1);  // sent once, not retried
    CHECK(read_text(r.store().key_path("m-1")) == old_pem);
    const auto pending = r.store().key_path("m-1").string() + ".new";
    REQUIRE(fs::exists(pending));
    CHECK(mode_of(pending) == 0600);
    CHECK(thumbprint_of_pem(read_text(pending)) == sent_kid(r.http.requests[0]));
    CHECK(r.record()->kid == before->kid);
}

TEST_CASE("machine rotate: refused, or answered without the new key: the pending key is removed, the old one kept",
          "[component][machine]") {
    rig r;
    r.add();
    const auto before = r.record();
    const auto old_pem = read_text(r.store().key_path("m-1"));
    SECTION("401 invalid_token") {
        r.http.push_json(401, R"({"error":"invalid_token"})");
        auto out = run(r.io, r.machines.async_rotate(*before, {}, r.diag));
        CHECK(out.ec == oauth_errc::invalid_token);
        CHECK(out.step == machine_step::idp_refused);
    }
    SECTION("200 listing only the old key") {
        const auto old_kid = before->kid;
        r.http.fallback = [old_kid](const http_request& q) {
            auto o = json::parse(q.body).as_object();
            o["jwks"].as_object()["keys"].as_array()[0].as_object()["kid"] = old_kid;
            o["client_id"] = "m-1";
            return test::json_reply(200, json::serialize(o));
        };
        auto out = run(r.io, r.machines.async_rotate(*before, {}, r.diag));
        CHECK(out.ec == client_errc::missing_field);
        CHECK(out.step == machine_step::idp_refused);
        CHECK(r.diag.client_message == "the identity provider answered the update without the new key");
    }
    CHECK(read_text(r.store().key_path("m-1")) == old_pem);
    CHECK_FALSE(fs::exists(r.store().key_path("m-1").string() + ".new"));
    CHECK(r.record()->kid == before->kid);
}

TEST_CASE("machine rotate: the IdP took the new key but it cannot replace the old file: it stays in the pending file",
          "[component][machine]") {
    rig r;
    r.add();
    const auto before = r.record();
    const auto key_file = r.store().key_path("m-1");
    fs::remove(key_file);
    fs::create_directory(key_file);  // the rename onto it fails
    std::ofstream(key_file / "x") << "x";
    r.http.fallback = [](const http_request& q) { return registered(q, 200); };
    auto out = run(r.io, r.machines.async_rotate(*before, {}, r.diag));
    CHECK(out.ec == client_errc::store_io);
    CHECK(out.step == machine_step::store);
    CHECK(out.new_key_file == out.pending_file);
    CHECK_FALSE(r.diag.client_message.empty());
    CHECK(thumbprint_of_pem(read_text(out.pending_file)) == sent_kid(r.http.requests.at(0)));
    CHECK(r.record()->kid == before->kid);
}

TEST_CASE("machine rotate: no registration access token: nothing sent, nothing written", "[component][machine]") {
    rig r;
    machine_record m;
    m.machine_id = "m-1";
    m.issuer = issuer;
    auto out = run(r.io, r.machines.async_rotate(m, {}, r.diag));
    CHECK(out.ec == client_errc::config_missing);
    CHECK(out.step == machine_step::prepare);
    CHECK(r.http.requests.empty());
    CHECK_FALSE(fs::exists(r.store().key_path("m-1").string() + ".new"));
}

TEST_CASE("machine rm: deleted at the IdP with the registration token, then here; a refusal keeps everything",
          "[component][machine]") {
    rig r;
    r.add();
    const auto m = *r.record();
    SECTION("204: gone there and here") {
        r.http.push(test::body_reply(204, "", ""));
        auto out = run(r.io, r.machines.async_remove(m, false, r.diag));
        CHECK_FALSE(out.ec);
        REQUIRE(r.http.requests.size() == 1);
        CHECK(r.http.requests[0].method == http_method::delete_);
        CHECK(r.http.requests[0].url == client_uri);
        CHECK(test::header_of(r.http.requests[0], "Authorization") == "Bearer rat-1");
        CHECK_FALSE(r.record());
        CHECK_FALSE(fs::exists(r.store().key_path("m-1")));
    }
    SECTION("401: refused, the key and record kept") {
        r.http.push_json(401, R"({"error":"invalid_token"})");
        auto out = run(r.io, r.machines.async_remove(m, false, r.diag));
        CHECK(out.ec == oauth_errc::invalid_token);
        CHECK(out.step == machine_step::idp_refused);
        CHECK(r.record());
        CHECK(fs::exists(r.store().key_path("m-1")));
    }
    SECTION("local only: the IdP is not asked") {
        auto out = run(r.io, r.machines.async_remove(m, true, r.diag));
        CHECK_FALSE(out.ec);
        CHECK(r.http.requests.empty());
        CHECK_FALSE(r.record());
    }
}

TEST_CASE("machine remote state: registered, with another key, unknown to the IdP, no token", "[component][machine]") {
    rig r;
    r.add();
    auto m = *r.record();
    using kind = transport::machine_remote_state::kind;
    auto state_for = [&r](const machine_record& rec) {
        return run(r.io, r.machines.async_remote_state(rec)).what;
    };
    const std::string keys_with = R"({"client_id":"m-1","jwks":{"keys":[{"kty":"EC","kid":")";
    r.http.push_json(200, keys_with + m.kid + R"("}]}})");
    CHECK(state_for(m) == kind::registered);
    r.http.push_json(200, keys_with + R"(other"}]}})");
    CHECK(state_for(m) == kind::different_key);
    r.http.push_json(401, R"({"error":"invalid_token"})");
    CHECK(state_for(m) == kind::not_registered);
    r.http.push_json(500, "oops");
    CHECK(state_for(m) == kind::unknown);
    REQUIRE(r.http.requests.size() == 4);
    CHECK(r.http.requests[0].method == http_method::get);
    CHECK(test::header_of(r.http.requests[0], "Authorization") == "Bearer rat-1");
    m.registration_access_token = secret{};
    CHECK(state_for(m) == kind::no_token);
    CHECK(r.http.requests.size() == 4);
}

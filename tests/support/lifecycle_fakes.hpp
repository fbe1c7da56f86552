// Fakes for the token-lifecycle component tests: an IdP that rotates refresh tokens like
// oidc-provider (a replayed refresh token is invalid_grant), a clock that counts waits, and
// a temporary credential store.
#pragma once

#include <latchkey/core/store.hpp>
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::test {

// Answers discovery, refresh and revocation like a small IdP, in memory.
//   GET  {issuer}/.well-known/openid-configuration
//   POST {issuer}/token       grant_type=refresh_token: the current refresh token gets
//                             "at-N" (+ "rt-N" when rotating); any other is invalid_grant
//                             grant_type=client_credentials: "cc-N" (no refresh token)
//   POST {issuer}/revoke      200
// Every reply is delivered after `latency` (at least one post), so concurrent callers
// really overlap.
class fake_idp final : public transport::http_port {
public:
    enum class failure { none, invalid_grant, network_error, html_500, empty_400, invalid_client };

    fake_idp(boost::asio::any_io_executor ex, std::string issuer);

    boost::asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                                     diagnostics& diag) override;

    std::string token_endpoint() const { return issuer + "/token"; }

    std::string issuer;
    std::string current_refresh = "rt-0";  // the one refresh token the IdP accepts
    bool rotate = true;
    failure fail_refresh = failure::none;
    int expires_in = 3600;
    std::chrono::milliseconds latency{0};

    std::vector<http_request> requests;
    std::size_t refresh_requests = 0;
    std::size_t grant_requests = 0;  // client_credentials
    failure fail_grant = failure::none;
    std::size_t discovery_requests = 0;
    std::size_t revoke_requests = 0;
    int generation = 0;

private:
    http_response answer(const http_request& req, error_code& ec);
    std::optional<http_response> answer_failure(failure f, error_code& ec) const;
    boost::asio::any_io_executor ex_;
};

// The real clock, counting the waits it was asked for (a test can await "someone is
// waiting", e.g. backing off on a lock).
class counting_clock final : public transport::clock_port {
public:
    explicit counting_clock(boost::asio::any_io_executor ex) : real_(std::move(ex)) {}
    time_point now() const override { return real_.now(); }
    boost::asio::awaitable<error_code> async_wait_until(time_point deadline) override;
    std::size_t waits = 0;

private:
    transport::real_clock real_;
};

// A fresh $LATCH_HOME under /tmp, removed at destruction.
struct temp_store {
    temp_store();
    ~temp_store();
    temp_store(const temp_store&) = delete;
    temp_store& operator=(const temp_store&) = delete;

    // Saves credentials for `default` with the given tokens (expires_at = now + lifetime).
    void save(const std::string& access, const std::string& refresh,
              std::chrono::seconds lifetime, const std::string& issuer);
    stored_credentials load() const;   // REQUIREs a stored file
    std::string bytes() const;         // the credentials file, byte for byte

    std::filesystem::path root;
    credential_store store;
};

// Form field of a request body (first occurrence; no decoding beyond what tests need).
std::string form_field(const http_request& req, const std::string& name);

}  // namespace latchkey::test

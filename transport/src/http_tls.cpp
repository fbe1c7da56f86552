// OpenSSL set-up for the HTTP client: trust store, SNI, host verification, and turning a
// failed handshake into a message a user can act on.
#include "http_internal.hpp"

#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <cstring>

namespace latchkey::transport::detail {
namespace asio = boost::asio;

namespace {
std::string openssl_reason() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown OpenSSL error";
    if (ERR_SYSTEM_ERROR(e)) return std::strerror(static_cast<int>(ERR_GET_REASON(e)));
    const char* r = ERR_reason_error_string(e);
    return r ? r : "OpenSSL error " + std::to_string(e);
}
}  // namespace

error_code configure_tls_context(ssl_ctx_st* ctx, const std::string& ca_file,
                                 std::string& trust_store, std::string& message) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);

    std::string file = ca_file;
    if (file.empty())
        if (const char* env = std::getenv("SSL_CERT_FILE"); env && *env) file = env;
    ERR_clear_error();
    if (file.empty()) {
        trust_store = "the system trust store";
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            message = "cannot load the system trust store: " + openssl_reason();
            return client_errc::connection_failed;
        }
        return {};
    }
    trust_store = escape_untrusted(file);
    if (SSL_CTX_load_verify_locations(ctx, file.c_str(), nullptr) != 1) {
        message = "cannot load CA certificates from " + trust_store + ": " + openssl_reason();
        return client_errc::connection_failed;
    }
    return {};
}

void configure_tls_peer(ssl_st* ssl, const target& t) {
    // Verification by OpenSSL itself (X509_VERIFY_PARAM) rather than a verify callback, so
    // that a mismatch comes back as X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH
    // with OpenSSL's own reason string.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (t.host_is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, t.host.c_str());
        return;  // RFC 6066 §3: no IP literals in SNI
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, t.host.c_str(), t.host.size());
    SSL_set_tlsext_host_name(ssl, t.host.c_str());
}

error_code describe_tls_failure(ssl_st* ssl, const error_code& ec, const target& t,
                                const std::string& trust_store, diagnostics& diag) {
    long verify = SSL_get_verify_result(ssl);
    bool cert_rejected = verify != X509_V_OK;
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
            SSL_R_CERTIFICATE_VERIFY_FAILED)
        cert_rejected = true;
    if (!cert_rejected) {
        diag.client_message = "TLS handshake with " + t.display + " failed: " + ec.message();
        return client_errc::connection_failed;
    }
    std::string reason = verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                             : ec.message();
    diag.client_message = "TLS certificate of " + t.host + " rejected (" + t.display +
                          "): certificate verify failed: " + reason + " (trusted CAs: " +
                          trust_store + ")";
    return client_errc::tls_verify_failed;
}

}  // namespace latchkey::transport::detail

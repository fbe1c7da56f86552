// Test helpers: a temporary directory and a self-signed certificate made at test time with
// the OpenSSL C API (no fixtures on disk that expire).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace latchkey::test {

// A fresh directory under the system temp dir, removed with its contents on destruction.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

struct self_signed_cert {
    std::string cert_pem;
    std::string key_pem;
    std::filesystem::path cert_file;  // the certificate alone: usable as a CA file
};

// An EC P-256 key and a self-signed X.509 v3 certificate, valid from an hour ago for a
// day, with subjectAltName DNS:<dns_names...>, IP:<ips...>; CN is the first name (or IP).
// Writes <dir>/<stem>.pem. Throws std::runtime_error when OpenSSL fails.
self_signed_cert make_self_signed_cert(const std::vector<std::string>& dns_names,
                                       const std::vector<std::string>& ips,
                                       const std::filesystem::path& dir,
                                       const std::string& stem = "cert");

}  // namespace latchkey::test

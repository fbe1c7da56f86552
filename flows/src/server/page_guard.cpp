#include <latchkey/flows/server/page_guard.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/random.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace latchkey::flows::server {

namespace {

std::string mac(std::string_view key, std::string_view nonce) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(nonce.data()),
         nonce.size(), md, &len);
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

}  // namespace

csrf_pair make_csrf(std::string_view key) {
    std::string nonce = random_urlsafe(24);
    std::string field = nonce + "." + mac(key, nonce);
    return {std::move(nonce), std::move(field)};
}

bool check_csrf(std::string_view key, std::string_view cookie, std::string_view field) {
    const auto dot = field.find('.');
    if (cookie.empty() || dot == std::string_view::npos) return false;
    const auto nonce = field.substr(0, dot);
    const bool same_nonce = constant_time_equal(nonce, cookie);
    const bool good_mac = constant_time_equal(field.substr(dot + 1), mac(key, nonce));
    return same_nonce && good_mac;
}

bool attempt_limiter::allow(std::string_view key, std::int64_t now) {
    const std::int64_t window = now / 60;
    if (window != window_) {
        window_ = window;
        global_count_ = 0;
        counts_.clear();
    }
    if (global_count_ >= global_) return false;
    auto it = counts_.find(std::string(key));
    if (it == counts_.end()) {
        if (counts_.size() >= max_keys_) return false;
        it = counts_.emplace(std::string(key), 0).first;
    }
    if (it->second >= per_key_) return false;
    ++it->second;
    ++global_count_;
    return true;
}

void attempt_limiter::refund(std::string_view key, std::int64_t now) {
    if (now / 60 != window_) return;
    auto it = counts_.find(std::string(key));
    if (it == counts_.end() || it->second == 0) return;
    --it->second;
    --global_count_;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out.push_back(c);
        }
    }
    return out;
}

}  // namespace latchkey::flows::server

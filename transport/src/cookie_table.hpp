// Private to web_login/web_sessions: a table of values keyed by random ids that live in a
// browser cookie, bounded in size (the oldest entry makes room) and in age.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/random.hpp>
#include <latchkey/core/token_set.hpp>  // time_point

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace latchkey::transport::detail {

// Set-Cookie value (RFC 6265 §4.1): HttpOnly, SameSite=Lax; max_age 0 removes it.
std::string make_set_cookie(std::string_view name, std::string_view value,
                            std::string_view path, std::chrono::seconds max_age, bool secure);

template <class T>
class cookie_table {
public:
    cookie_table(std::size_t max_entries, std::chrono::seconds ttl)
        : max_(max_entries ? max_entries : 1), ttl_(ttl) {}

    // Stores `value` under a fresh 256-bit id; drops expired entries, then the oldest ones
    // while full. Returns the id.
    std::string insert(T value, time_point now) {
        prune(now);
        while (order_.size() >= max_) {
            index_.erase(order_.front().id);
            order_.pop_front();
            ++dropped_;
        }
        std::string id = random_urlsafe(32);
        order_.push_back(entry{id, now, std::move(value)});
        index_.emplace(id, std::prev(order_.end()));
        return id;
    }

    // The live entry with this id, or nullptr. Valid until the next non-const call.
    T* find(std::string_view id, time_point now) {
        prune(now);
        auto it = index_.find(std::string(id));
        return it == index_.end() ? nullptr : &it->second->value;
    }

    std::optional<T> take(std::string_view id, time_point now) {
        prune(now);
        auto it = index_.find(std::string(id));
        if (it == index_.end()) return std::nullopt;
        std::optional<T> out(std::move(it->second->value));
        order_.erase(it->second);
        index_.erase(it);
        return out;
    }

    std::size_t size() const noexcept { return order_.size(); }
    std::size_t dropped() const noexcept { return dropped_; }
    std::chrono::seconds ttl() const noexcept { return ttl_; }

private:
    struct entry {
        std::string id;
        time_point created;
        T value;
    };

    // Entries are in creation order and share one ttl: the expired ones are at the front.
    void prune(time_point now) {
        while (!order_.empty() && now - order_.front().created >= ttl_) {
            index_.erase(order_.front().id);
            order_.pop_front();
        }
    }

    std::size_t max_;
    std::chrono::seconds ttl_;
    std::size_t dropped_ = 0;
    std::list<entry> order_;
    std::unordered_map<std::string, typename std::list<entry>::iterator> index_;
};

}  // namespace latchkey::transport::detail

#include <latchkey/transport/machine_identity.hpp>

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/store.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace latchkey::transport {
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// A fresh key pair and the registration body for it (RFC 7591 §2).
struct new_key {
    pkey_ptr key;
    secret pem;
    std::string kid;
    std::string body;
};

result<new_key> make_machine_key(const std::string& type, const machine_metadata& md,
                                 diagnostics& diag) {
    if (type != "ec-p256" && type != "rsa-2048") {
        diag.client_message = "unknown key type '" + type + "' (ec-p256 or rsa-2048)";
        return client_errc::bad_input;
    }
    auto key = generate_key(type == "rsa-2048" ? key_type::rsa_2048 : key_type::ec_p256);
    auto pem = key ? private_key_pem(key->get()) : result<secret>(key.error());
    auto kid = key ? jwk_thumbprint(key->get()) : result<std::string>(key.error());
    auto body = key ? registration_body(md, key->get()) : result<std::string>(key.error());
    if (!pem || !kid || !body) {
        diag.client_message = "cannot generate a " + type + " key with OpenSSL";
        return client_errc::key_error;
    }
    return new_key{std::move(*key), std::move(*pem), std::move(*kid), std::move(*body)};
}

// A copy of the private key for another computer, created 0600 and never over an existing
// file (it may be someone's key).
error_code write_key_copy(const fs::path& p, const secret& pem, diagnostics& diag) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        diag.client_message = "cannot write the key copy " + p.string() + ": " + std::strerror(errno) +
                              (errno == EEXIST ? " (latch never overwrites a key file)" : "");
        return client_errc::key_error;
    }
    const auto& v = pem.reveal();
    bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        diag.client_message = "cannot write the key copy " + p.string();
        ::unlink(p.c_str());
        return client_errc::key_error;
    }
    return {};
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !*buf) return "latch-machine";
    return buf;
}

bool has_management(const machine_record& m) {
    return !m.registration_access_token.empty() && !m.registration_client_uri.empty();
}

// Sends a registration request and parses the answer: the step is idp_silent for a
// transport error, idp_refused for a refusal.
asio::awaitable<result<client_registration>> async_registration_exchange(
    http_port& http, http_request req, machine_step& step, diagnostics& diag) {
    error_code ec;
    auto resp = co_await http.async_send(std::move(req), ec, diag);
    if (ec) {
        step = machine_step::idp_silent;
        co_return ec;
    }
    auto reg = parse_registration_response(resp, diag);
    if (!reg) step = machine_step::idp_refused;
    co_return reg;
}

// The IdP accepted the new key: the pending file replaces the old key, the record follows.
// On failure out.new_key_file says where the new key is.
error_code store_rotated(const machine_store& store, machine_rotated& out, const new_key& k,
                         const std::string& type, const client_registration& reg, time_point now,
                         diagnostics& diag) {
    auto& m = out.record;
    std::error_code sec;
    fs::rename(out.pending_file, out.key_file, sec);
    m.key_type = type;
    m.kid = k.kid;
    m.key_created_at = now;
    if (!reg.registration_access_token.empty()) m.registration_access_token = reg.registration_access_token;
    if (!reg.registration_client_uri.empty()) m.registration_client_uri = reg.registration_client_uri;
    diagnostics store_diag;
    const error_code ec = sec ? error_code(client_errc::store_io) : store.save(m, store_diag);
    if (!ec) return {};
    out.new_key_file = sec ? out.pending_file : out.key_file;
    diag = std::move(store_diag);
    if (sec) diag.client_message = sec.message();
    return ec;
}

template <class Outcome>
Outcome failure(Outcome out, error_code ec, machine_step step) {
    out.ec = ec;
    out.step = step;
    return out;
}

}  // namespace

asio::awaitable<machine_added> machine_identities::async_add(machine_add_params p,
                                                             diagnostics& diag) {
    machine_added out;
    client_config c;
    c.issuer = p.issuer;
    auto meta = co_await client_.async_discover(c, diag);
    if (!meta) co_return failure(std::move(out), meta.error(), machine_step::prepare);
    if (meta->registration_endpoint.empty()) {
        diag.client_message = "the identity provider at " + p.issuer + " does not offer Dynamic "
                              "Client Registration (no registration_endpoint, RFC 7591); ask its "
                              "admin to register the machine";
        co_return failure(std::move(out), client_errc::endpoint_missing, machine_step::prepare);
    }
    machine_metadata md;
    md.client_name = p.name.empty() ? host_name() : p.name;
    auto k = make_machine_key(p.key_type, md, diag);
    if (!k) co_return failure(std::move(out), k.error(), machine_step::prepare);

    machine_step step = machine_step::done;
    auto reg = co_await async_registration_exchange(
        client_.http, make_registration_request(meta->registration_endpoint, k->body, p.bearer),
        step, diag);
    if (!reg) co_return failure(std::move(out), reg.error(), step);

    auto& m = out.record;
    m.machine_id = reg->client_id;
    m.name = reg->client_name.empty() ? md.client_name : reg->client_name;
    m.issuer = p.issuer;
    m.key_type = p.key_type;
    m.kid = k->kid;
    m.created_at = m.key_created_at = client_.clock.now();
    m.registration_client_uri = reg->registration_client_uri;
    m.registration_access_token = reg->registration_access_token;
    out.registration = std::move(*reg);
    out.key_description = describe_key(k->key.get());
    out.key_file = store_.key_path(m.machine_id);
    if (auto ec = store_.save_key(m.machine_id, k->pem, diag); ec || (ec = store_.save(m, diag)))
        co_return failure(std::move(out), ec, machine_step::store);
    if (!p.key_copy.empty())
        if (auto ec = write_key_copy(p.key_copy, k->pem, diag))
            co_return failure(std::move(out), ec, machine_step::key_copy);
    co_return out;
}

asio::awaitable<machine_remote_state> machine_identities::async_remote_state(const machine_record& m) {
    machine_remote_state st;
    if (!has_management(m)) {
        st.what = machine_remote_state::kind::no_token;
        co_return st;
    }
    machine_step step = machine_step::done;
    auto reg = co_await async_registration_exchange(
        client_.http, make_registration_read(m.registration_client_uri, m.registration_access_token),
        step, st.diag);
    if (reg) {
        const bool key_ok = std::find(reg->kids.begin(), reg->kids.end(), m.kid) != reg->kids.end();
        st.what = reg->kids.empty() || key_ok ? machine_remote_state::kind::registered
                                              : machine_remote_state::kind::different_key;
    } else if (reg.error() == oauth_errc::invalid_token) {
        st.what = machine_remote_state::kind::not_registered;
    } else {
        st.ec = reg.error();
    }
    co_return st;
}

asio::awaitable<machine_outcome> machine_identities::async_remove(const machine_record& m,
                                                                  bool local_only,
                                                                  diagnostics& diag) {
    if (!local_only) {
        if (!has_management(m)) {
            diag.client_message = "there is no registration access token for it (RFC 7592)";
            co_return machine_outcome{client_errc::config_missing, machine_step::prepare};
        }
        error_code ec;
        auto resp = co_await client_.http.async_send(
            make_registration_delete(m.registration_client_uri, m.registration_access_token), ec, diag);
        if (ec) co_return machine_outcome{ec, machine_step::idp_silent};
        if ((ec = parse_deletion_response(resp, diag)))
            co_return machine_outcome{ec, machine_step::idp_refused};
    }
    auto removed = store_.remove(m.machine_id, diag);
    if (!removed) co_return machine_outcome{removed.error(), machine_step::store};
    co_return machine_outcome{};
}

asio::awaitable<machine_rotated> machine_identities::async_rotate(machine_record m,
                                                                  machine_rotate_params p,
                                                                  diagnostics& diag) {
    machine_rotated out;
    out.record = m;
    out.key_file = store_.key_path(m.machine_id);
    out.pending_file = out.key_file.string() + ".new";
    if (!has_management(m)) {
        diag.client_message = "machine " + m.machine_id + " cannot be rotated: the identity "
                              "provider gave no registration access token (RFC 7592) for it";
        co_return failure(std::move(out), client_errc::config_missing, machine_step::prepare);
    }
    const std::string type = p.key_type ? *p.key_type : m.key_type.empty() ? "ec-p256" : m.key_type;
    machine_metadata md;  // RFC 7592 §2.2: the full metadata again, with the new jwks
    md.client_id = m.machine_id;
    md.client_name = m.name;
    auto k = make_machine_key(type, md, diag);
    if (!k) co_return failure(std::move(out), k.error(), machine_step::prepare);
    out.key_description = describe_key(k->key.get());

    // The new key is on disk before the IdP hears of it, so a crash after the update cannot
    // lose the only key that works; the old one goes only once the IdP accepted.
    if (auto ec = write_file_atomic(out.pending_file, k->pem.reveal(), 0600, diag))
        co_return failure(std::move(out), ec, machine_step::prepare);
    machine_step step = machine_step::done;
    auto reg = co_await async_registration_exchange(
        client_.http,
        make_registration_update(m.registration_client_uri, k->body, m.registration_access_token),
        step, diag);
    if (reg && !reg->kids.empty() && std::find(reg->kids.begin(), reg->kids.end(), k->kid) == reg->kids.end()) {
        diag.client_message = "the identity provider answered the update without the new key";
        reg = client_errc::missing_field;
        step = machine_step::idp_refused;
    }
    // idp_silent: the request may have reached the IdP and the answer been lost, so either
    // key may be the registered one now: both are kept.
    if (!reg && step == machine_step::idp_refused) ::unlink(out.pending_file.c_str());
    if (!reg) co_return failure(std::move(out), reg.error(), step);
    if (auto ec = store_rotated(store_, out, *k, type, *reg, client_.clock.now(), diag))
        co_return failure(std::move(out), ec, machine_step::store);
    if (!p.key_copy.empty())
        if (auto ec = write_key_copy(p.key_copy, k->pem, diag))
            co_return failure(std::move(out), ec, machine_step::key_copy);
    co_return out;
}

}  // namespace latchkey::transport

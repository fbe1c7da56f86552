// kubectl's exec credential plugin (client.authentication.k8s.io, "client-go credential
// plugins" in the Kubernetes docs) and `latch kubeconfig add`, which writes the `exec`
// stanza through `kubectl config set-credentials` (kubectl merges its own YAML).
#include "integrations.hpp"

#include <latchkey/core/token_set.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view api_group = "client.authentication.k8s.io/";

// What kubectl tells the plugin in KUBERNETES_EXEC_INFO: the API version to answer in and
// whether the user can be asked anything (stdin is kubectl's terminal).
struct exec_info {
    std::string api_version = "client.authentication.k8s.io/v1";
    bool interactive = false;
};

exec_info read_exec_info() {
    exec_info info;
    const char* raw = std::getenv("KUBERNETES_EXEC_INFO");
    if (!raw || !*raw) return info;
    json::error_code ec;
    auto v = json::parse(raw, ec);
    if (ec || !v.is_object()) return info;
    const auto& o = v.as_object();
    if (auto* av = o.if_contains("apiVersion"); av && av->is_string() &&
                                                 av->as_string().starts_with(api_group))
        info.api_version = std::string(av->as_string());
    if (auto* spec = o.if_contains("spec"); spec && spec->is_object())
        if (auto* i = spec->as_object().if_contains("interactive"); i && i->is_bool())
            info.interactive = i->as_bool();
    return info;
}

// Prints the ExecCredential with the access token; kubectl caches it until
// expirationTimestamp, so a token is not asked for again while it lives. When a new login
// is needed and kubectl says the user is at a terminal, runs `latch login` for the context
// first (its prompts go to stderr, which kubectl shows).
int print_exec_credential(const exec_info& info, const current_token& tok) {
    json::object status;
    status["token"] = tok.tokens.access_token.reveal();
    if (tok.tokens.expires_at) status["expirationTimestamp"] = format_time(*tok.tokens.expires_at);
    json::object cred;
    cred["apiVersion"] = info.api_version;
    cred["kind"] = "ExecCredential";
    cred["status"] = std::move(status);
    std::printf("%s\n", json::serialize(cred).c_str());
    return 0;
}

// Not a coroutine on purpose: GCC 12 frees run_login's by-value options twice when the
// argument is built inside a coroutine frame (seen as "free(): invalid pointer"); here it
// is a plain temporary, copied into run_login's frame before this returns.
asio::awaitable<int> async_default_login(app& a) { return run_login(a, login_options{}); }

asio::awaitable<int> run_kubectl_credential(app& a) {
    auto info = read_exec_info();
    int code = 1;
    auto tok = co_await async_current_token(a, code, !info.interactive);
    if (tok) co_return print_exec_credential(info, *tok);
    if (code != 77 || !info.interactive) co_return code;
    int rc = co_await async_default_login(a);
    if (rc != 0) co_return rc;
    auto fresh = co_await async_current_token(a, code);
    if (!fresh) co_return code;
    co_return print_exec_credential(info, *fresh);
}

struct kubeconfig_options {
    std::string user;          // kubeconfig user entry; default latch-<context>
    std::string api_version = "v1";
    std::string kubeconfig;    // --kubeconfig for kubectl; default: its own rules
    bool dry_run = false;
};

asio::awaitable<int> run_kubeconfig_add(app& a, kubeconfig_options o) {
    if (o.api_version != "v1" && o.api_version != "v1beta1") {
        print_error("--api-version must be v1 or v1beta1 (kubectl before 1.22 knows only v1beta1)");
        co_return 2;
    }
    diagnostics diag;
    auto cur = load_current_context(a, diag);
    if (cur.exit_code != 0) co_return cur.exit_code;
    if (o.user.empty()) o.user = "latch-" + cur.name;
    std::vector<std::string> cmd{"kubectl"};
    if (!o.kubeconfig.empty()) cmd.push_back("--kubeconfig=" + o.kubeconfig);
    for (std::string arg : {std::string("config"), std::string("set-credentials"), o.user,
                            "--exec-api-version=" + std::string(api_group) + o.api_version,
                            "--exec-command=" + self_path(), std::string("--exec-arg=--context"),
                            "--exec-arg=" + cur.name, std::string("--exec-arg=kubectl-credential")})
        cmd.push_back(std::move(arg));
    // v1 requires it; v1beta1 kubectl versions may not know the flag.
    if (o.api_version == "v1") cmd.push_back("--exec-interactive-mode=IfAvailable");
    if (o.dry_run) {
        std::string line;
        for (const auto& c : cmd) line += (line.empty() ? "" : " ") + c;
        std::printf("%s\n", line.c_str());
        co_return 0;
    }
    int rc = run_program(cmd);
    if (rc != 0) {
        print_error(rc < 0 ? "kubectl not found; run `latch kubeconfig add --dry-run` to see the command"
                           : "`kubectl config set-credentials` failed");
        co_return 1;
    }
    std::fprintf(stderr,
                 "kubeconfig user '%s' now gets its token from latch (context '%s'); use it with "
                 "kubectl config set-context --current --user=%s\n",
                 o.user.c_str(), cur.name.c_str(), o.user.c_str());
    co_return 0;
}

}  // namespace

void register_kube_commands(CLI::App& cli, command_fn& selected) {
    auto* cred = cli.add_subcommand("kubectl-credential", "kubectl exec credential plugin: print an ExecCredential");
    cred->callback([&selected] { selected = [](app& a) { return run_kubectl_credential(a); }; });

    auto* kube = cli.add_subcommand("kubeconfig", "Set up kubectl to get tokens from latch");
    kube->require_subcommand(1);
    auto ko = std::make_shared<kubeconfig_options>();
    auto* add = kube->add_subcommand("add", "Write a kubeconfig user whose token comes from `latch kubectl-credential`");
    add->add_option("--user", ko->user, "kubeconfig user name (default: latch-CONTEXT)");
    add->add_option("--api-version", ko->api_version, "client.authentication.k8s.io version: v1 or v1beta1")->capture_default_str();
    add->add_option("--kubeconfig", ko->kubeconfig, "kubeconfig file (default: kubectl's KUBECONFIG / ~/.kube/config)");
    add->add_flag("--dry-run", ko->dry_run, "Print the kubectl command instead of running it");
    add->callback([ko, &selected] { selected = [ko](app& a) { return run_kubeconfig_add(a, *ko); }; });
}

}  // namespace latchkey::cli

// `latch context add|set|use|list|current|delete`: named contexts in config.json, each with its
// own issuer, client and scopes, and its own credentials file. Only `use` (and `add` of the
// first context, `delete` of the current one) changes which context is current; `--context`
// and LATCH_CONTEXT choose one for a single command without touching the file.
#include "app.hpp"

#include <algorithm>
#include <cstdio>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {

struct context_add_options {
    std::string name;
    std::string issuer;
    std::string client_id;
    std::vector<std::string> scopes;
    std::map<std::string, std::string> settings;  // --gateway…, --lookup-url (gateway.cpp)
};

// Loads config.json, printing the error. Empty optional on failure.
std::optional<config_file> load_or_report(app& a) {
    diagnostics diag;
    auto cfg = a.store.load_config(diag);
    if (!cfg) { print_error(describe(cfg.error(), diag)); return std::nullopt; }
    return std::move(*cfg);
}

bool save_or_report(app& a, const config_file& cfg) {
    diagnostics diag;
    if (auto ec = a.store.save_config(cfg, diag)) { print_error(describe(ec, diag)); return false; }
    return true;
}

int unknown_context(const std::string& name) {
    print_error("no context named '" + name + "'; see `latch context list`");
    return 1;
}

// A name no context can have: a usage error, exit 2 in every command.
int invalid_name(const std::string& name) {
    print_error(invalid_context_message(name));
    return 2;
}

// Adds a context, or updates one: what is given replaces, what is not is kept (issue 17
// #7: changing one setting must not wipe the scopes or need --issuer/--client-id again).
int context_add(app& a, const context_add_options& o) {
    if (!valid_context_name(o.name)) return invalid_name(o.name);
    auto cfg = load_or_report(a);
    if (!cfg) return 1;
    const bool first = cfg->contexts.empty();
    const bool existed = cfg->contexts.count(o.name) > 0;
    if (!existed && (o.issuer.empty() || o.client_id.empty())) {
        print_error("a new context needs --issuer URL and --client-id ID");
        return 2;
    }
    auto& c = cfg->contexts[o.name];
    if (!o.issuer.empty()) c.issuer = o.issuer;
    if (!o.client_id.empty()) c.client_id = o.client_id;
    if (!o.scopes.empty()) c.scopes = o.scopes;
    for (const auto& [key, value] : o.settings)  // given ones replace, others are kept
        if (!value.empty()) c.extra[key] = value;
    if (first) cfg->current_context = o.name;
    if (!save_or_report(a, *cfg)) return 1;
    std::fprintf(stderr, "%s context '%s' (%s, client %s)%s.\n", existed ? "Updated" : "Added",
                 o.name.c_str(), c.issuer.c_str(), c.client_id.c_str(),
                 first ? "; it is now the current context" : "");
    return 0;
}

struct context_set_options {
    std::string name, key, value;
    std::vector<std::string> setting_keys;  // context_config::extra keys `add` knows
};

// `latch context set NAME KEY VALUE`: one setting of an existing context; an empty VALUE
// removes an optional one. KEY: issuer, client-id, scopes (space separated) or a setting.
int context_set(app& a, const context_set_options& o) {
    if (!valid_context_name(o.name)) return invalid_name(o.name);
    auto cfg = load_or_report(a);
    if (!cfg) return 1;
    auto it = cfg->contexts.find(o.name);
    if (it == cfg->contexts.end()) return unknown_context(o.name);
    auto& c = it->second;
    std::string key = o.key;
    std::replace(key.begin(), key.end(), '-', '_');
    const bool setting = std::find(o.setting_keys.begin(), o.setting_keys.end(), key) != o.setting_keys.end();
    if ((key == "issuer" || key == "client_id") && o.value.empty()) {
        print_error("the " + o.key + " of a context cannot be empty");
        return 2;
    }
    if (key == "issuer") c.issuer = o.value;
    else if (key == "client_id") c.client_id = o.value;
    else if (key == "scopes" || key == "scope") {
        c.scopes.clear();
        for (std::size_t at = 0; at < o.value.size();) {
            const auto end = std::min(o.value.find_first_of(" ,", at), o.value.size());
            if (end > at) c.scopes.push_back(o.value.substr(at, end - at));
            at = end + 1;
        }
    } else if (setting && o.value.empty()) c.extra.erase(key);
    else if (setting) c.extra[key] = o.value;
    else {
        std::string known = "issuer, client-id, scopes";
        for (const auto& k : o.setting_keys) known += ", " + k;
        print_error("unknown context setting '" + o.key + "'; settings: " + known);
        return 2;
    }
    if (!save_or_report(a, *cfg)) return 1;
    std::fprintf(stderr, "Set %s of context '%s'%s.\n", o.key.c_str(), o.name.c_str(),
                 o.value.empty() ? " (removed)" : "");
    return 0;
}

int context_use(app& a, const std::string& name) {
    if (!valid_context_name(name)) return invalid_name(name);
    auto cfg = load_or_report(a);
    if (!cfg) return 1;
    if (!cfg->contexts.count(name)) return unknown_context(name);
    cfg->current_context = name;
    if (!save_or_report(a, *cfg)) return 1;
    std::fprintf(stderr, "Switched to context '%s'.\n", name.c_str());
    return 0;
}

// One line per context on stdout; `*` marks the current one (config.json's, not the
// one --context/LATCH_CONTEXT picked for this command).
int context_list(app& a) {
    auto cfg = load_or_report(a);
    if (!cfg) return 1;
    if (cfg->contexts.empty()) {
        std::fprintf(stderr, "No contexts yet; add one with `latch context add NAME --issuer URL --client-id ID`\n");
        return 0;
    }
    for (const auto& [name, c] : cfg->contexts) {
        std::string scopes;
        for (const auto& s : c.scopes) scopes += (scopes.empty() ? "" : " ") + s;
        std::printf("%s %s\t%s\t%s%s%s\n", name == cfg->current_context ? "*" : " ", name.c_str(),
                    c.issuer.c_str(), c.client_id.c_str(), scopes.empty() ? "" : "\t",
                    scopes.c_str());
    }
    return 0;
}

// The context this command acts on: --context > LATCH_CONTEXT > current.
int context_current(app& a) {
    auto cfg = load_or_report(a);
    if (!cfg) return 1;
    std::printf("%s\n", a.context_name(*cfg).c_str());
    return 0;
}

int context_delete(app& a, const std::string& name) {
    if (!valid_context_name(name)) return invalid_name(name);
    auto cfg = load_or_report(a);
    if (!cfg) return 1;
    diagnostics diag;
    const bool known = cfg->contexts.erase(name) > 0;
    auto removed = a.store.remove(name, diag);
    if (!removed) { print_error(describe(removed.error(), diag)); return 1; }
    if (!known && !*removed) return unknown_context(name);
    const bool was_current = cfg->current_context == name;
    if (was_current) cfg->current_context = cfg->contexts.empty() ? "default" : cfg->contexts.begin()->first;
    if (!save_or_report(a, *cfg)) return 1;
    std::fprintf(stderr, "Deleted context '%s'%s%s.\n", name.c_str(),
                 *removed ? " and its stored credentials" : "",
                 was_current ? ("; the current context is now '" + cfg->current_context + "'").c_str() : "");
    return 0;
}

// The commands are synchronous (small local files); wrap them for the command runner.
// A free coroutine taking `f` by value, not a capturing-lambda coroutine (STYLE.md, CP.51).
asio::awaitable<int> run_sync(std::function<int(app&)> f, app& a) { co_return f(a); }

command_fn wrap(std::function<int(app&)> f) {
    return [f = std::move(f)](app& a) { return run_sync(f, a); };
}

}  // namespace

}  // namespace latchkey::cli

#include <CLI/CLI.hpp>

namespace latchkey::cli {

void register_context_commands(CLI::App& cli, command_fn& selected) {
    auto* ctx = cli.add_subcommand("context", "Manage named contexts (issuer, client, scopes)");
    ctx->require_subcommand(1);

    auto ao = std::make_shared<context_add_options>();
    auto* add = ctx->add_subcommand("add", "Add a context, or update one (what is not given is kept)");
    add->add_option("name", ao->name, "Context name")->required();
    add->add_option("--issuer", ao->issuer, "Issuer URL (required for a new context)");
    add->add_option("--client-id", ao->client_id, "OAuth client id (required for a new context)");
    add->add_option("--scope", ao->scopes, "Scope to request; repeatable (given: replaces the scopes)");
    add_context_setting_options(*add, ao->settings);
    add->callback([ao, &selected] { selected = wrap([ao](app& a) { return context_add(a, *ao); }); });

    auto so = std::make_shared<context_set_options>();
    for (const auto& [key, value] : ao->settings) so->setting_keys.push_back(key);
    auto* set = ctx->add_subcommand("set", "Change one setting of a context: latch context set NAME KEY VALUE");
    set->add_option("name", so->name, "Context name")->required();
    set->add_option("key", so->key, "issuer, client-id, scopes (space separated) or a setting such as lookup_url")->required();
    set->add_option("value", so->value, "New value; \"\" removes an optional setting")->required();
    set->callback([so, &selected] { selected = wrap([so](app& a) { return context_set(a, *so); }); });

    auto name = std::make_shared<std::string>();
    auto* use = ctx->add_subcommand("use", "Make a context the current one");
    use->add_option("name", *name, "Context name")->required();
    use->callback([name, &selected] { selected = wrap([name](app& a) { return context_use(a, *name); }); });

    auto* list = ctx->add_subcommand("list", "List contexts; * marks the current one");
    list->callback([&selected] { selected = wrap([](app& a) { return context_list(a); }); });

    auto* current = ctx->add_subcommand("current", "Print the context commands act on");
    current->callback([&selected] { selected = wrap([](app& a) { return context_current(a); }); });

    auto* del = ctx->add_subcommand("delete", "Delete a context and its stored credentials");
    del->add_option("name", *name, "Context name")->required();
    del->callback([name, &selected] { selected = wrap([name](app& a) { return context_delete(a, *name); }); });
}

}  // namespace latchkey::cli

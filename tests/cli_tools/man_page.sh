#!/usr/bin/env bash
# latch.1, generated at build time by `latch --man`: man renders it without a warning, it
# documents every command (`latch completion bash` lists them, from the same definitions)
# and the environment, and it is what the latch of this build prints.
#   usage: man_page.sh <latch> <generated latch.1>
set -euo pipefail
latch=${1:?usage: man_page.sh <latch> <latch.1>}
page=${2:?usage: man_page.sh <latch> <latch.1>}
[ -f "$page" ] || { echo "man_page.sh: $page was not generated (build target latch_docs)"; exit 1; }
cmp -s "$page" <("$latch" --man) || { echo "FAIL: $page is stale: rebuild (latch --man differs)"; exit 1; }
warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
[ -z "$warnings" ] || { echo "FAIL: groff warns:"; echo "$warnings"; exit 1; }
text=$(MANWIDTH=100 man -l "$page" 2>&1 | col -b)
failures=0
commands=$("$latch" completion bash | sed -n "/^_latch_subcommands()/,/^}/s/^        '') echo '\(.*\)' ;;/\1/p")
[ -n "$commands" ] || { echo "man_page.sh: no commands found in the bash completion"; exit 1; }
for c in $commands; do
    [ "$c" = whoami ] && continue  # an alias: "Also: whoami."
    grep -qE "^ +latch $c( |$)" <<<"$text" || { echo "FAIL: the man page has no section for 'latch $c'"; failures=$((failures + 1)); }
done
for want in NAME SYNOPSIS COMMANDS ENVIRONMENT "EXIT STATUS" EXAMPLES LATCH_HOME "latch context add" "--issuer"; do
    grep -qF -- "$want" <<<"$text" || { echo "FAIL: the man page lacks '$want'"; failures=$((failures + 1)); }
done
if [ $failures -ne 0 ]; then exit 1; fi
echo "man_page.sh: ok ($(wc -w <<<"$commands") commands documented)"

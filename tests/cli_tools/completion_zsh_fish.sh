#!/usr/bin/env bash
# `latch completion zsh` and `latch completion fish`: zsh parses its script and finds it
# as the completion of `latch` on $fpath (compinit); fish, which can complete a command
# line without a terminal (`complete -C`), offers what a user expects.
#   usage: completion_zsh_fish.sh <latch>
set -euo pipefail
latch=$(realpath "${1:?usage: completion_zsh_fish.sh <latch>}")
work=$(mktemp -d /tmp/latch-completion-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LATCH_HOME=$work/home
mkdir -m 700 "$LATCH_HOME" "$work/bin" "$work/zfunc"
ln -s "$latch" "$work/bin/latch"
export PATH=$work/bin:$PATH
latch context add work --issuer https://id.example --client-id cli >/dev/null 2>&1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if command -v zsh >/dev/null; then
    latch completion zsh >"$work/zfunc/_latch"
    zsh -n "$work/zfunc/_latch" || fail "zsh -n rejects the script"
    got=$(zsh -f -c "fpath=($work/zfunc \$fpath); autoload -U compinit; compinit -u -d $work/zcompdump; print -r -- \${_comps[latch]}")
    [ "$got" = _latch ] || fail "compinit does not map latch to _latch (got '$got')"
    # Load the function itself (autoload -X would call it outside completion).
    zsh -f -c "fpath=($work/zfunc \$fpath); autoload -U +X _latch; whence -w _latch_offer >/dev/null || true" ||
        fail "zsh cannot load _latch"
else
    fail "zsh is not installed (scripts/install-deps.sh installs it)"
fi

if command -v fish >/dev/null; then
    latch completion fish >"$work/latch.fish"
    fish -n "$work/latch.fish" || fail "fish -n rejects the script"
    complete_fish() { fish --no-config -c "source $work/latch.fish; complete -C '$1'" | cut -f1; }
    check() {  # words, expected candidate
        complete_fish "$1" | grep -qxF -- "$2" || { fail "fish: '$1<TAB>' should offer '$2'; got:"; complete_fish "$1" | sed 's/^/    /'; }
    }
    check 'latch lo' login
    check 'latch login --dev' --device
    check 'latch context ' use
    check 'latch context use ' work
    check 'latch --context ' work
    check 'latch --context work st' status
    check 'latch completion ' fish
    check 'latch status --' --json
    if complete_fish 'latch lo' | grep -qxF status; then fail "fish: 'latch lo<TAB>' offers status"; fi
else
    fail "fish is not installed (scripts/install-deps.sh installs it)"
fi

if [ $failures -ne 0 ]; then echo "completion_zsh_fish.sh: $failures failure(s)"; exit 1; fi
echo "completion_zsh_fish.sh: ok"

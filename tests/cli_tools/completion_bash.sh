#!/usr/bin/env bash
# `latch completion bash`: the generated script is sourced in a fresh bash and its
# completion function run on typed words (COMP_WORDS/COMP_CWORD, as bash's readline sets
# them); the candidates must be what a user expects to see.
#   usage: completion_bash.sh <latch>
set -euo pipefail
latch=$(realpath "${1:?usage: completion_bash.sh <latch>}")
work=$(mktemp -d /tmp/latch-completion-XXXXXX)
trap 'rm -rf "$work"' EXIT
export LATCH_HOME=$work/home
mkdir -m 700 "$LATCH_HOME"
"$latch" context add work --issuer https://id.example --client-id cli >/dev/null 2>&1
"$latch" context add play --issuer https://id.example --client-id cli >/dev/null 2>&1
"$latch" completion bash >"$work/latch.bash"
bash -n "$work/latch.bash"
failures=0

# Candidates for the words given (the last one is the word being completed), one a line.
candidates() {
    (cd "$work" && bash --norc --noprofile -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _latch
        printf "%s\n" "${COMPREPLY[@]}"' _ "$work/latch.bash" "$latch" "$@")
}
# expect "has|lacks" WORD -- typed words...
expect() {
    local how=$1 word=$2; shift 3
    local got; got=$(candidates "$@")
    local found=no
    grep -qxF -- "$word" <<<"$got" && found=yes
    if { [ "$how" = has ] && [ $found = no ]; } || { [ "$how" = lacks ] && [ $found = yes ]; }; then
        echo "FAIL: 'latch $*<TAB>' should $( [ "$how" = has ] && echo offer || echo "not offer") '$word'; got:"
        sed 's/^/    /' <<<"$got"
        failures=$((failures + 1))
    fi
}

expect has login -- lo
expect has logout -- lo
expect lacks status -- lo
expect has --device -- login --dev
expect lacks --browser -- login --dev
expect has --client-id -- login --issuer https://x --cl   # the issuer's value is skipped
expect has login -- --context work lo                     # a global option and its value
expect has login -- --debug lo                            # a flag takes no value
expect has --json -- status --
expect has --context -- status --                         # global options fall through
expect has whoami -- who                                  # aliases
for sub in add use list current delete; do expect has $sub -- context ''; done
expect has work -- context use ''                         # context names from `latch context list`
expect has play -- context delete ''
expect has work -- --context ''
expect lacks play -- --context w
expect has work -- --context = ''                           # --context=<TAB>
expect has zsh -- completion ''
expect has list -- docker-credential ''                   # "get | list | ..." in its description
expect has environment -- help env
expect has latch.bash -- login --ca-file ''               # a file
expect lacks --man -- --m                                 # hidden
expect has completion -- ''

if [ $failures -ne 0 ]; then echo "completion_bash.sh: $failures failure(s)"; exit 1; fi
echo "completion_bash.sh: ok"

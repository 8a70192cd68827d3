#!/usr/bin/env bash
# Builds the real `sops` and `age-keygen` from pinned Go modules (through the
# Go module proxy) into a cache directory outside the repository, for the SOPS
# tests (encrypting fixtures as a user would). The cache key is the content of
# go-sops/go.mod, go.sum, tools.go and this script.
#   build-sops.sh               build if needed
#   build-sops.sh --print-dir   print the binary directory (builds nothing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
mod="$here/go-sops"
sops_version="$(awk '$1 == "github.com/getsops/sops/v3" { print $2; exit }' "$mod/go.mod")"
key="$(cat "$mod/go.mod" "$mod/go.sum" "$mod/tools.go" "$0" | sha256sum | cut -c1-12)"
dir="$cache/sops/$sops_version-$key"

if [ "${1:-}" = "--print-dir" ]; then
  echo "$dir"
  exit 0
fi
[ -f "$dir/.complete" ] && exit 0

say() { printf '\033[1;34m[driftless]\033[0m %s\n' "$*" >&2; }
fail() {
  printf '\033[1;31m[driftless] error:\033[0m %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '  hint: %s\n' "$2" >&2
  exit 1
}

command -v go >/dev/null 2>&1 ||
  fail "Go is required to build sops for the tests" "install Go 1.24 or newer and re-run"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export CGO_ENABLED=0

tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
log="$tmp/build.log"

start=$(date +%s)
say "building sops $sops_version and age-keygen (go build, log: $log)"
if ! (cd "$mod" && go build -ldflags "-s -w" -o "$tmp/" \
  github.com/getsops/sops/v3/cmd/sops filippo.io/age/cmd/age-keygen) >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  fail "go build of sops failed (full log above)" \
    "check that the Go module proxy is reachable and 'go version' is 1.24 or newer"
fi
for b in sops age-keygen; do
  [ -x "$tmp/$b" ] || fail "build produced no $b binary"
done
touch "$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
say "sops $sops_version built in $(($(date +%s) - start))s into $dir"

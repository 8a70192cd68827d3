#!/usr/bin/env bash
# Builds the test environment's OCI registry (the CNCF distribution registry,
# cmd/registry) from its pinned Go module into a cache directory outside the
# repository. The chart tests push charts to it with `helm push` and Driftless
# pulls them through the distribution API. The cache key is the content of
# go-registry/ and this script: a pin change rebuilds, an unchanged pin costs nothing.
#   build-registry.sh               build if needed
#   build-registry.sh --print-dir   print the binary directory (builds nothing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
mod="$here/go-registry"
version="$(awk '$1 == "require" && $2 == "github.com/distribution/distribution/v3" { print $3 }' "$mod/go.mod")"
key="$(cat "$mod/go.mod" "$mod/go.sum" "$mod"/*.go "$0" | sha256sum | cut -c1-12)"
dir="$cache/registry/$version-$key"

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
  fail "Go is required to build the OCI registry for the tests" "install Go 1.24 or newer and re-run"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export CGO_ENABLED=0

tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
log="$tmp/build.log"

start=$(date +%s)
say "building the distribution registry $version (go build, log: $log)"
if ! (cd "$mod" && go build -ldflags "-s -w" -o "$tmp/registry" \
  github.com/distribution/distribution/v3/cmd/registry) >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  fail "go build of the registry failed (full log above)" \
    "check that the Go module proxy is reachable and 'go version' is 1.24 or newer"
fi
[ -x "$tmp/registry" ] || fail "build produced no registry binary"
touch "$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
say "registry $version built in $(($(date +%s) - start))s into $dir"

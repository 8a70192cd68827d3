#!/usr/bin/env bash
# Builds Flux's source-controller, kustomize-controller and notification-controller
# (for its Receiver) from pinned Go modules (through the Go module proxy) into a
# cache directory outside the repository, for the fleet benchmark
# (bench/fleet.bench.ts) that runs them beside Driftless. Their CRDs are copied
# from the same modules into <dir>/crds/ at build time. The cache key is the
# content of go-flux/go.mod, go.sum, tools.go and this script.
#   build-flux.sh               build if needed
#   build-flux.sh --print-dir   print the binary directory (builds nothing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
mod="$here/go-flux"
controllers=(source-controller kustomize-controller notification-controller)
pin() { awk -v m="github.com/fluxcd/$1" '$1 == m { print $2; exit }' "$mod/go.mod"; }
version="sc$(pin source-controller)-kc$(pin kustomize-controller)-nc$(pin notification-controller)"
key="$(cat "$mod/go.mod" "$mod/go.sum" "$mod/tools.go" "$0" | sha256sum | cut -c1-12)"
dir="$cache/flux/$version-$key"

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

if ! command -v go >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Go from Debian (GOTOOLCHAIN fetches the version go.mod asks for)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null ||
      fail "could not install Go" "install Go 1.26 or newer and re-run"
  else
    fail "Go is required to build the Flux controllers for the fleet benchmark" "install Go 1.26 or newer and re-run"
  fi
fi
# An older local Go downloads the toolchain go.mod names through the module proxy.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export CGO_ENABLED=0

tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/crds"
trap 'rm -rf "$tmp"' EXIT
log="$tmp/build.log"

start=$(date +%s)
pkgs=()
for c in "${controllers[@]}"; do pkgs+=("github.com/fluxcd/$c"); done
say "building Flux $version (go build, log: $log)"
if ! (cd "$mod" && go build -ldflags "-s -w" -o "$tmp/" "${pkgs[@]}") >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  fail "go build of the Flux controllers failed (full log above)" \
    "check that the Go module proxy is reachable and 'go version' is 1.26 or newer"
fi
for c in "${controllers[@]}"; do
  [ -x "$tmp/$c" ] || fail "build produced no $c binary"
  # The CRDs ship in each controller's module; the build has just downloaded it.
  src="$(cd "$mod" && go list -m -f '{{.Dir}}' "github.com/fluxcd/$c")/config/crd/bases"
  compgen -G "$src/*.yaml" >/dev/null || fail "no CRDs under $src"
  cp "$src"/*.yaml "$tmp/crds/"
done
chmod -R u+w "$tmp/crds"
touch "$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
say "Flux $version built in $(($(date +%s) - start))s into $dir"

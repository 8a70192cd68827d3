#!/usr/bin/env bash
# Builds the test environment's Kubernetes control plane from pinned Go modules
# (through the Go module proxy) into a cache directory outside the repository:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok.
# The cache key is the content of the go.mod/go.sum files and this script, so a
# pin change rebuilds and an unchanged pin costs nothing.
#   build-kube.sh               build if needed
#   build-kube.sh --print-dir   print the binary directory (builds nothing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
kube_version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$here/go/kube/go.mod")"
key="$(cat "$here"/go/*/go.mod "$here"/go/*/go.sum "$here"/go/*/*.go "$0" | sha256sum | cut -c1-12)"
dir="$cache/kube/$kube_version-$key"

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
      fail "could not install Go" "install Go 1.24 or newer and re-run"
  else
    fail "Go is required to build the Kubernetes test binaries" "install Go 1.24 or newer and re-run"
  fi
fi
# An older local Go downloads the toolchain go.mod names through the module proxy.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export CGO_ENABLED=0

tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
log="$tmp/build.log"

build() { # module-dir ldflags packages...
  local mod="$1" ldflags="$2"
  shift 2
  say "building $* (go build, log: $log)"
  if ! (cd "$here/go/$mod" && go build -ldflags "$ldflags" -o "$tmp/" "$@") >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "go build of $* failed (full log above)" \
      "check that the Go module proxy is reachable and 'go version' is 1.24 or newer"
  fi
}

start=$(date +%s)
minor="${kube_version#v1.}"
minor="${minor%%.*}"
v=k8s.io/component-base/version
kube_ldflags="-s -w -X $v.gitVersion=$kube_version -X $v.gitMajor=1 -X $v.gitMinor=$minor"
kube_ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
build kube "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
build etcd "-s -w" .
build kwok "-s -w" sigs.k8s.io/kwok/cmd/kwok

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
  [ -x "$tmp/$b" ] || fail "build produced no $b binary"
done
touch "$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
say "Kubernetes $kube_version control plane built in $(($(date +%s) - start))s into $dir"

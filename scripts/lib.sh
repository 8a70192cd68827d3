# shellcheck shell=bash
# Shared bootstrap for scripts/test and scripts/dev: everything a fresh machine
# needs is installed here, into a cache outside the repository, keyed by version.
# Sourced, not executed.

set -euo pipefail

DRIFTLESS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRIFTLESS_CACHE="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
export DRIFTLESS_ROOT DRIFTLESS_CACHE

# Pinned versions. The Kubernetes and etcd pins live in scripts/testenv/go/*/go.mod.
NODE_VERSION="22.23.3"
MOTO_VERSION="5.2.5"
KUBERNETES_VERSION="v1.34.4"
export KUBERNETES_VERSION

log() { printf '\033[1;34m[driftless]\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[1;31m[driftless] error:\033[0m %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '  hint: %s\n' "$2" >&2
  exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# Serializes installs into the shared cache (two test runs at once must not
# both write the same virtualenv). The lock is released when the shell exits
# or when unlock is called.
lock() {
  mkdir -p "$DRIFTLESS_CACHE"
  command -v flock >/dev/null 2>&1 || return 0
  exec {DRIFTLESS_LOCK_FD}>"$DRIFTLESS_CACHE/.lock-$1"
  flock "$DRIFTLESS_LOCK_FD"
}
unlock() {
  [ -n "${DRIFTLESS_LOCK_FD:-}" ] && exec {DRIFTLESS_LOCK_FD}>&- || true
  DRIFTLESS_LOCK_FD=
}

apt_install() {
  is_root || die "missing system package(s): $*" "install them with: sudo apt-get install -y $*"
  log "installing Debian package(s): $*"
  if [ -z "${DRIFTLESS_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null || die "apt-get update failed" "check the package mirror configuration"
    DRIFTLESS_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
    die "apt-get install $* failed"
}

# Node 22 (the Lambda runtime). An older machine Node gets a Node 22 binary from
# the npm registry's node-linux-<arch> package; npm itself is run under it.
ensure_node() {
  local major=0
  if command -v node >/dev/null 2>&1; then
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  fi
  if [ "$major" -ge 22 ]; then return 0; fi
  command -v npm >/dev/null 2>&1 || apt_install npm
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Node 22 package for architecture $(uname -m)" "install Node.js 22 yourself and re-run" ;;
  esac
  local dir="$DRIFTLESS_CACHE/node/$NODE_VERSION-$arch"
  local bin="$dir/node_modules/node-linux-$arch/bin"
  lock node
  if [ ! -x "$bin/node" ]; then
    log "machine Node is ${major:-absent}; installing Node $NODE_VERSION into $dir"
    mkdir -p "$dir"
    npm install --silent --no-save --no-audit --no-fund --prefix "$dir" "node-linux-$arch@$NODE_VERSION" >/dev/null ||
      die "could not install node-linux-$arch@$NODE_VERSION" "check access to the npm registry"
  fi
  unlock
  export PATH="$bin:$PATH"
  node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' ||
    die "Node 22 at $bin does not run"
}

# npm dependencies, reinstalled only when package-lock.json changed.
ensure_npm_deps() {
  local stamp="$DRIFTLESS_ROOT/node_modules/.driftless-lock-sha"
  local want
  want="$(sha256sum "$DRIFTLESS_ROOT/package-lock.json" | cut -d' ' -f1)-$(node -p process.version)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  # node_modules linked from another checkout: npm ci here would empty that
  # checkout's install under it. Use it as it is.
  if [ -L "$DRIFTLESS_ROOT/node_modules" ]; then
    log "node_modules is a link to another checkout's install: not reinstalling it (its lock may differ)"
    return 0
  fi
  lock "npm-$(echo "$DRIFTLESS_ROOT" | sha256sum | cut -c1-8)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing npm dependencies (npm ci)"
    (cd "$DRIFTLESS_ROOT" && npm ci --no-audit --no-fund --loglevel=error) ||
      die "npm ci failed" "check access to the npm registry"
    echo "$want" >"$stamp"
  fi
  unlock
}

# The Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) built from pinned Go modules, cached by content key.
ensure_kube_binaries() {
  lock kube
  "$DRIFTLESS_ROOT/scripts/testenv/build-kube.sh"
  unlock
  DRIFTLESS_KUBE_BIN="$("$DRIFTLESS_ROOT/scripts/testenv/build-kube.sh" --print-dir)"
  export DRIFTLESS_KUBE_BIN
}

# The real sops and age-keygen for the SOPS tests, built from a pinned Go module.
ensure_sops() {
  lock sops
  "$DRIFTLESS_ROOT/scripts/testenv/build-sops.sh"
  unlock
  DRIFTLESS_SOPS_BIN="$("$DRIFTLESS_ROOT/scripts/testenv/build-sops.sh" --print-dir)"
  export DRIFTLESS_SOPS_BIN
}

# moto in server mode, in a virtualenv in the cache.
ensure_moto() {
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  local pyver
  pyver="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  local venv="$DRIFTLESS_CACHE/moto/$MOTO_VERSION-py$pyver"
  # The marker is written last, so an interrupted install is redone, not trusted.
  lock moto
  if [ ! -f "$venv/.driftless-complete" ]; then
    log "installing moto $MOTO_VERSION into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      apt_install python3-venv
      python3 -m venv "$venv" || die "python3 -m venv failed"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "moto[server,sqs,dynamodb,eks,secretsmanager,sts]==$MOTO_VERSION" ||
      die "pip install moto==$MOTO_VERSION failed" "check access to PyPI"
    touch "$venv/.driftless-complete"
  fi
  unlock
  DRIFTLESS_MOTO_SERVER="$venv/bin/moto_server"
  export DRIFTLESS_MOTO_SERVER
}

ensure_git_http_backend() {
  command -v git >/dev/null 2>&1 || apt_install git
  local backend
  backend="$(git --exec-path)/git-http-backend"
  [ -x "$backend" ] || apt_install git
  [ -x "$backend" ] || die "git-http-backend not found at $backend" "install Debian's git package"
  DRIFTLESS_GIT_HTTP_BACKEND="$backend"
  export DRIFTLESS_GIT_HTTP_BACKEND
}

# The OCI registry (distribution's cmd/registry) the chart tests push to, built
# from its pinned Go module and cached by content key.
ensure_registry() {
  lock registry
  "$DRIFTLESS_ROOT/scripts/testenv/build-registry.sh"
  unlock
  DRIFTLESS_REGISTRY_BIN="$("$DRIFTLESS_ROOT/scripts/testenv/build-registry.sh" --print-dir)/registry"
  export DRIFTLESS_REGISTRY_BIN
}

# Flux's source-, kustomize- and notification-controller (and their CRDs) for
# the fleet benchmark only (bench/run-fleet.sh), built from a pinned Go module
# and cached by content key. Not part of ensure_testenv: the tests do not use it.
ensure_flux() {
  lock flux
  "$DRIFTLESS_ROOT/scripts/testenv/build-flux.sh"
  unlock
  DRIFTLESS_FLUX_DIR="$("$DRIFTLESS_ROOT/scripts/testenv/build-flux.sh" --print-dir)"
  export DRIFTLESS_FLUX_DIR
}

ensure_openssl() {
  command -v openssl >/dev/null 2>&1 || apt_install openssl
}

# Everything the test environment needs, in dependency order.
ensure_testenv() {
  ensure_openssl
  ensure_git_http_backend
  ensure_moto
  ensure_kube_binaries
  ensure_sops
  ensure_registry
}

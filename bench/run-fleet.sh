#!/usr/bin/env bash
# Driftless vs Flux on one local API server and one Git server, for fleets of
# apps (see bench/README.md, "Fleet benchmark"). Installs what a fresh machine
# lacks (Node 22, npm dependencies, git http-backend, the Go-built etcd +
# kube-apiserver, and Flux's controllers built from their Go modules), then
# runs the benchmark; arguments go to bench/fleet.bench.ts
# (e.g. --apps 20 --intervals 30s --out /tmp/fleet.md).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

ensure_node
ensure_npm_deps
ensure_openssl
ensure_git_http_backend
ensure_kube_binaries
ensure_flux

cd "$DRIFTLESS_ROOT"
exec node --import tsx bench/fleet.bench.ts "$@"

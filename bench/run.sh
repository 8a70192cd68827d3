#!/usr/bin/env bash
# Driftless vs kubectl on a local API server (see bench/README.md). Installs
# what a fresh machine lacks (Node 22, npm dependencies, git http-backend, the
# Go-built etcd + kube-apiserver), then runs the benchmark; arguments go to
# bench/drift.bench.ts (e.g. --sizes 50,200 --reps 3 --out table.md).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

ensure_node
ensure_npm_deps
# What ensure_testenv installs, less the AWS emulator, which the benchmark does not use.
ensure_openssl
ensure_git_http_backend
ensure_kube_binaries

cd "$DRIFTLESS_ROOT"
exec node --import tsx bench/drift.bench.ts "$@"

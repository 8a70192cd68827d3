#!/usr/bin/env bash
# What a reconcile costs on AWS (see bench/README.md, "Cost per reconcile").
# Installs what a fresh machine lacks (Node 22, npm dependencies, moto, git
# http-backend, the Go-built etcd + kube-apiserver), then runs the benchmark;
# arguments go to bench/cost.bench.ts (e.g. --sizes 30,200 --reps 7 --readme).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

ensure_node
ensure_npm_deps
ensure_openssl
ensure_git_http_backend
ensure_moto
ensure_kube_binaries

cd "$DRIFTLESS_ROOT"
exec node --import tsx bench/cost.bench.ts "$@"

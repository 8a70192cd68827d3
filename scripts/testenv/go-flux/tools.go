//go:build tools

// The Flux controllers this module pins, built by scripts/testenv/build-flux.sh
// for the fleet benchmark (bench/fleet.bench.ts): source-controller,
// kustomize-controller and notification-controller (for its Receiver).
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/notification-controller"
	_ "github.com/fluxcd/source-controller"
)

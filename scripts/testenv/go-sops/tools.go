//go:build tools

// The test binaries this module pins: the real sops and age-keygen, built by
// scripts/testenv/build-sops.sh.
package tools

import (
	_ "filippo.io/age/cmd/age-keygen"
	_ "github.com/getsops/sops/v3/cmd/sops"
)

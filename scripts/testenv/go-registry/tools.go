//go:build tools

// Pins the distribution registry (the CNCF OCI registry) that the chart tests
// push to and pull from; build-registry.sh builds its cmd/registry.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"

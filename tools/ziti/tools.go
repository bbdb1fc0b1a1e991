//go:build tools

// Package tools pins the ziti CLI (controller + edge router via `ziti edge
// quickstart`) in its own module so its large dependency graph never leaks
// into the provider's go.mod.
package tools

import _ "github.com/openziti/ziti/ziti"

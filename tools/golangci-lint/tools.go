//go:build tools

// Package tools pins golangci-lint (with gosec among its linters), which
// `make test` runs.
package tools

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"

//go:build tools

// Package tools pins the OpenTofu CLI used by acceptance tests, docs
// generation and `make demo`.
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"

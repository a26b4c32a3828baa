//go:build tools

// Package tools pins golangci-lint, built from the module proxy by make lint
// (a module of its own, so its dependencies stay out of gatekeep's go.mod).
package tools

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"

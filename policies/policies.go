// Package policies embeds gatekeep's built-in policy bundle, the default of
// both gatekeep check and gatekeep serve.
package policies

import "embed"

// FS holds the built-in bundle's files.
//
//go:embed gatekeep.yaml deprecations.yaml checks lib
var FS embed.FS

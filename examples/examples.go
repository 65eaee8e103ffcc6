// Package examples holds the ready-to-apply manifests of this folder, so that
// `eso-bridge-dev demo` applies the same files a reader sees.
package examples

import "embed"

// Manifests are the YAML files of this folder.
//
//go:embed *.yaml
var Manifests embed.FS

// Command eso-bridge-dev is the development command: a local control plane
// (kube-apiserver, etcd, controllers, simulated nodes, the real ESO and an AWS
// Secrets Manager endpoint) for the demo, a sandbox, and the build of its
// binaries. The controller image never builds it: it links the test bed.
package main

import (
	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
)

func commands() []app.Command {
	return []app.Command{
		{Name: "demo", Summary: "show eso-bridge at work on a local control plane: two rotations, each traced; nothing to install (the default)", Run: Demo},
		{Name: "sandbox", Summary: "start a local control plane with ESO and an AWS Secrets Manager endpoint, until Ctrl-C", Run: runSandbox},
		{Name: "toolchain", Summary: "build (or find in the cache) the local control plane's binaries and the Helm CLI the chart tests use, and print their paths", Run: runToolchain},
	}
}

func main() {
	// Before the first client is built: the demo's controller fills its
	// caches from streamed watches, as the eso-bridge binary does.
	bridge.StreamInitialLists()
	app.Main("eso-bridge-dev", commands())
}

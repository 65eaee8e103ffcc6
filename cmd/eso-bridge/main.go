// Command eso-bridge restarts the workloads that consume an External Secrets
// Operator Secret once ESO has really written a rotated value, and shows the
// rotation as one trace. See README.md. This binary holds the controller and
// nothing else; the local test bed is cmd/eso-bridge-dev.
package main

import (
	"context"
	"io"

	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
)

func commands() []app.Command {
	return []app.Command{
		{Name: "run", Summary: "run the controller (the default when no command is given)", Run: runController},
		{Name: "trace", Summary: "print the timeline of an ExternalSecret's or a workload's latest rotation, from cluster state", Run: app.Trace},
		{Name: "version", Summary: "print the version", Run: runVersion},
	}
}

// runController runs the controller, logging this binary's version.
func runController(ctx context.Context, args []string, _, stderr io.Writer) error {
	return app.Run(ctx, args, stderr, versionString())
}

func main() { app.Main("eso-bridge", commands()) }

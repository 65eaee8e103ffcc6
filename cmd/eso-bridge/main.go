// Command eso-bridge restarts the workloads that consume an External Secrets
// Operator Secret once ESO has really written a rotated value, and shows the
// rotation as one trace. See README.md. This binary holds the controller and
// nothing else; the local test bed is cmd/eso-bridge-dev.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Execute(ctx, versionString(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(app.Report(os.Stderr, err))
}

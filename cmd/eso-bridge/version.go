package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise
// the module version or VCS revision recorded by the Go toolchain is shown.
var version = ""

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if err := app.NewFlagSet("eso-bridge version", stderr).Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "eso-bridge", versionString())
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	for _, setting := range info.Settings {
		if setting.Key == "vcs.revision" {
			return "devel-" + setting.Value
		}
	}
	return "(devel)"
}

// Package harness runs tests against the local control plane: one control
// plane per test binary, started in TestMain; a fresh namespace per test; the
// components' logs printed when a test fails; and nothing left running when
// the tests pass, fail, panic or are interrupted.
package harness

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
)

var (
	mu     sync.Mutex
	shared *controlplane.ControlPlane
)

// Main starts the local control plane, runs the tests and stops it. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//
// Ctrl-C (SIGINT) or SIGTERM stops the control plane before the binary exits;
// a panic or a test timeout kills the components through their parent-death
// signal (see controlplane).
func Main(m *testing.M) {
	os.Exit(Run(m, controlplane.Options{}))
}

// MainWith is Main with control plane options, e.g. the in-process AWS endpoint.
func MainWith(m *testing.M, opts controlplane.Options) {
	os.Exit(Run(m, opts))
}

// Run is MainWith without the exit: it returns the exit code, for a TestMain
// that has more to do once the control plane is stopped.
func Run(m *testing.M, opts controlplane.Options) int {
	// As the controller's binary does, before the first client is built:
	// the in-process controllers' caches fill from streamed watches.
	bridge.StreamInitialLists()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		sig, ok := <-signals
		if !ok {
			return
		}
		cancel()
		mu.Lock()
		if shared != nil {
			shared.Stop()
		}
		fmt.Fprintf(os.Stderr, "harness: %s: stopped the local control plane\n", sig)
		os.Exit(130)
	}()

	started := time.Now()
	opts.Progress = os.Stderr
	cp, err := controlplane.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness: starting the local control plane: %v\n", err)
		return 1
	}
	mu.Lock()
	shared = cp
	mu.Unlock()
	fmt.Fprintf(os.Stderr, "harness: local control plane ready in %s (logs in %s)\n", time.Since(started).Round(time.Millisecond), cp.LogDir)
	defer cp.Stop()
	return m.Run()
}

// ControlPlane returns the control plane started by Main.
func ControlPlane(t testing.TB) *controlplane.ControlPlane {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		t.Fatal("harness: no control plane; call harness.Main(m) from TestMain")
	}
	return shared
}

// DefaultTimeout bounds one test's waits; a cold ESO or rollout takes seconds.
const DefaultTimeout = 3 * time.Minute

// Context returns the test's context bounded by DefaultTimeout.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// The child run of this test binary reads its scenario and where to report
// its control plane's processes from these variables.
const (
	teardownScenarioEnv = "ESO_BRIDGE_TEARDOWN_SCENARIO"
	teardownReportEnv   = "ESO_BRIDGE_TEARDOWN_REPORT"
)

// TestTeardownChild is the child side of TestControlPlaneLeavesNothingBehind:
// it reports its control plane's processes, then ends the way its scenario says.
func TestTeardownChild(t *testing.T) {
	scenario := os.Getenv(teardownScenarioEnv)
	if scenario == "" {
		t.Skip("runs only as a child of TestControlPlaneLeavesNothingBehind")
	}
	report, err := json.Marshal(harness.ControlPlane(t).Components())
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv(teardownReportEnv)
	if err := os.WriteFile(path+".tmp", report, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	switch scenario {
	case "pass":
	case "fail":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	case "interrupt":
		time.Sleep(2 * time.Minute)
		t.Fatal("no interrupt arrived within 2 minutes")
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
}

// TestControlPlaneLeavesNothingBehind runs a test binary whose test passes,
// fails, panics or is interrupted with SIGINT (Ctrl-C), and checks each time
// that every component process is gone and no port is still served.
func TestControlPlaneLeavesNothingBehind(t *testing.T) {
	for _, scenario := range []string{"pass", "fail", "panic", "interrupt"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			ctx := harness.Context(t)
			reportPath := filepath.Join(t.TempDir(), "components.json")
			var output bytes.Buffer
			child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestTeardownChild$", "-test.count=1", "-test.v")
			child.Env = append(os.Environ(), teardownScenarioEnv+"="+scenario, teardownReportEnv+"="+reportPath)
			child.Stdout, child.Stderr = &output, &output
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- child.Wait() }()
			components, err := awaitReport(ctx, reportPath, exited)
			if err != nil {
				_ = child.Process.Kill()
				t.Fatalf("%v; child output:\n%s", err, output.String())
			}
			if scenario == "interrupt" {
				if err := child.Process.Signal(os.Interrupt); err != nil {
					t.Fatal(err)
				}
			}
			waitErr := <-exited
			if scenario == "pass" && waitErr != nil {
				t.Errorf("child exited with %v, want success; output:\n%s", waitErr, output.String())
			}
			if scenario != "pass" && waitErr == nil {
				t.Errorf("child exited successfully, want a failure; output:\n%s", output.String())
			}
			if len(components) < 7 {
				t.Fatalf("child reported only %d components: %+v", len(components), components)
			}
			for _, component := range components {
				if err := awaitGone(ctx, component); err != nil {
					t.Errorf("after %s: %v", scenario, err)
				}
			}
			if t.Failed() {
				t.Logf("child output:\n%s", output.String())
			}
		})
	}
}

// awaitReport waits for the child to write its component list. A child that
// panics right after writing it may exit first, so an exit is checked against
// the file once more before it counts as a failure.
func awaitReport(ctx context.Context, path string, exited chan error) ([]controlplane.Component, error) {
	read := func() ([]controlplane.Component, bool, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, false, nil
		}
		var components []controlplane.Component
		return components, true, json.Unmarshal(data, &components)
	}
	for {
		if components, ok, err := read(); ok {
			return components, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the child reported no components: %w", ctx.Err())
		case waitErr := <-exited:
			if components, ok, err := read(); ok {
				// Hand the exit back to the caller, who waits for it too.
				go func() { exited <- waitErr }()
				return components, err
			}
			return nil, fmt.Errorf("the child exited (%v) before reporting its components", waitErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// awaitGone waits up to 15 seconds for a component's process to be gone and
// its ports to refuse connections.
func awaitGone(ctx context.Context, component controlplane.Component) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		problem := ""
		if processAlive(component.PID) {
			problem = fmt.Sprintf("process %d still running", component.PID)
		}
		for _, address := range component.Addresses {
			if conn, err := net.DialTimeout("tcp", address, time.Second); err == nil {
				_ = conn.Close()
				problem += fmt.Sprintf(" port %s still open", address)
			}
		}
		if problem == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s:%s", component.Name, problem)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// processAlive reports whether pid runs. A zombie — dead, waiting for a parent
// that does not reap, such as some container inits — counts as gone.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

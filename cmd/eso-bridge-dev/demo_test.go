package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var demoLog = regexp.MustCompile(`its log: (\S+)/logs/eso-bridge\.log`)

// TestDemoShowsBothRotationsWithOneRolloutEach runs the README's first
// command as a newcomer would: it must exit 0, show both rotations — each
// with its timeline and one rollout of each workload it concerns — and leave
// nothing running.
func TestDemoShowsBothRotationsWithOneRolloutEach(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	demo := command(ctx, "demo")
	var stdout, stderr strings.Builder
	demo.Stdout, demo.Stderr = &stdout, &stderr
	if err := demo.Run(); err != nil {
		t.Fatalf("eso-bridge-dev demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("eso-bridge-dev demo printed:\n%s", out)
	// The first thing a newcomer sees must not look like a crash.
	if strings.Contains(stderr.String(), "goroutine ") || strings.Contains(stderr.String(), "SetLogger") {
		t.Errorf("the demo printed a goroutine dump to stderr:\n%s", stderr.String())
	}

	first, second, found := strings.Cut(out, "==> Rotation 2")
	if !found || !strings.Contains(first, "==> Rotation 1") {
		t.Fatalf("the demo did not show two rotations")
	}
	for _, want := range []string{"deployment/api: 1 rollout(s)", "statefulset/worker: 1 rollout(s)", "Rotation of ExternalSecret demo/db-credentials", "rollout complete  deployment/api", "rollout complete  statefulset/worker"} {
		if !strings.Contains(first, want) {
			t.Errorf("rotation 1 does not show %q", want)
		}
	}
	for _, want := range []string{"AWSPENDING", "deployment/api: 1 rollout(s)", "statefulset/worker: 0 rollout(s)", "Rotation of ExternalSecret demo/api-key", "rollout complete  deployment/api"} {
		if !strings.Contains(second, want) {
			t.Errorf("rotation 2 does not show %q", want)
		}
	}
	if n := strings.Count(out, "Waiting: nothing."); n != 2 {
		t.Errorf("%d timelines end with nothing waiting, want 2", n)
	}
	dir := demoLog.FindStringSubmatch(out)
	if dir == nil {
		t.Fatal("the demo did not say where its control plane lives")
	}
	if left := componentsOf(dir[1]); len(left) > 0 {
		t.Errorf("components of the demo still running after it exited: %v", left)
	}
	if _, err := os.Stat(filepath.Clean(dir[1])); !os.IsNotExist(err) {
		t.Errorf("the demo's folder %s is still there (%v)", dir[1], err)
	}
}

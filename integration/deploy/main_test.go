// Package deploy_test checks what a cluster operator installs — the Helm
// chart, the Kustomize base, the RBAC, the examples — against the local
// control plane.
package deploy_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

func TestMain(m *testing.M) {
	harness.MainWith(m, controlplane.Options{SecretsManager: controlplane.InProcess})
}

// repo is the repository root, from this package's folder.
var repo = filepath.Join("..", "..")

var chartDir = filepath.Join(repo, "manifests", "helm", "eso-bridge")

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm runs the Helm CLI the toolchain builds, and returns its output.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	helmOnce.Do(func() {
		var binaries toolchain.Binaries
		binaries, helmErr = toolchain.Build(context.Background(), toolchain.Options{Helm: true})
		helmPath = binaries.Helm
	})
	if helmErr != nil {
		t.Fatalf("building Helm: %v", helmErr)
	}
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(t.Context(), helmPath, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), &helmError{err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type helmError struct {
	err    error
	stderr string
}

func (e *helmError) Error() string { return e.err.Error() + ": " + e.stderr }

// renderChart renders the chart as release eso-bridge into namespace.
func renderChart(t *testing.T, namespace string, args ...string) string {
	t.Helper()
	return renderChartAs(t, "eso-bridge", namespace, args...)
}

// renderChartAs renders the chart as release into namespace, for the local
// API server's version.
func renderChartAs(t *testing.T, release, namespace string, args ...string) string {
	t.Helper()
	base := []string{"template", release, chartDir, "--namespace", namespace, "--kube-version", toolchain.KubernetesVersion}
	out, err := helm(t, append(base, args...)...)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return out
}

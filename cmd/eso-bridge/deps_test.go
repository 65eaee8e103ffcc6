package main

import (
	"os/exec"
	"strings"
	"testing"
)

// forbiddenInController are packages the controller binary must not link:
// the local test bed and what only it, the CLI of kubectl or ESO's own
// controllers need. Each would grow the image with code it never runs.
var forbiddenInController = []string{
	"github.com/eso-bridge/eso-bridge/integration", // the test bed: control plane, toolchain, localsm, harness
	"github.com/eso-bridge/eso-bridge/examples",
	"github.com/eso-bridge/eso-bridge/internal/heaptest", // benchmarks' measure
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge-dev",
	"sigs.k8s.io/controller-runtime/pkg/envtest",
	"k8s.io/kubectl",
	"sigs.k8s.io/kustomize",
	"github.com/Masterminds/sprig",
	"github.com/external-secrets/external-secrets/pkg", // ESO's controllers; its API types are fine
}

// The controller binary holds the controller and nothing else.
func TestControllerBinaryLinksNoTestBedNorKubectlNorSprig(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, forbidden := range forbiddenInController {
			if pkg == forbidden || strings.HasPrefix(pkg, forbidden+"/") {
				t.Errorf("the controller links %s (forbidden: %s)", pkg, forbidden)
			}
		}
	}
}

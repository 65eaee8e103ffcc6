package bridge

import (
	"os/exec"
	"strings"
	"testing"
)

// The layout is kept by its imports: pure decisions link no client, the
// write path never reads the read model, and the controller knows vaults
// only through the providers interface.
func TestPackagesImportOnlyWhatTheirConcernNeeds(t *testing.T) {
	const module = "github.com/eso-bridge/eso-bridge/"
	rules := []struct {
		packages  []string
		forbidden []string
		why       string
		// direct checks only the package's own imports: ESO's API types
		// themselves link controller-runtime.
		direct bool
	}{
		{
			packages:  []string{"bridge/gate", "bridge/waves", "bridge/window", "bridge/optin", "bridge/annotations", "bridge/eso", "bridge/traceparent", "bridge/digest"},
			forbidden: []string{"sigs.k8s.io/controller-runtime", "k8s.io/client-go"},
			why:       "pure decisions and codecs are table-tested without a client",
			direct:    true,
		},
		{
			packages:  []string{"bridge/restart", "bridge/trigger", "bridge/rollout", "bridge/gate"},
			forbidden: []string{module + "bridge/rotation", module + "bridge/tracing"},
			why:       "the read model and tracing never feed the write path",
		},
		{
			packages:  []string{"bridge", "bridge/trigger", "bridge/restart"},
			forbidden: []string{module + "providers/aws"},
			why:       "vaults are built by the composition root and reached through providers.Vault",
		},
	}
	for _, rule := range rules {
		for _, pkg := range rule.packages {
			args := []string{"list", "-deps", module + pkg}
			if rule.direct {
				args = []string{"list", "-f", `{{join .Imports "\n"}}`, module + pkg}
			}
			out, err := exec.CommandContext(t.Context(), "go", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, forbidden := range rule.forbidden {
					if dep == forbidden || strings.HasPrefix(dep, forbidden+"/") {
						t.Errorf("%s imports %s: %s", pkg, dep, rule.why)
					}
				}
			}
		}
	}
}

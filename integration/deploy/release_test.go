package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

// workflowFile is the release workflow.
var workflowFile = filepath.Join(repo, ".github", "workflows", "release.yml")

// workflow is the part of a GitHub Actions workflow the release test reads.
type workflow struct {
	Env  map[string]string `json:"env"`
	Jobs map[string]struct {
		Steps []workflowStep `json:"steps"`
	} `json:"jobs"`
}

type workflowStep struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Uses string            `json:"uses"`
	With map[string]any    `json:"with"`
	Env  map[string]string `json:"env"`
	Run  string            `json:"run"`
}

func readWorkflow(t *testing.T) workflow {
	t.Helper()
	data, err := os.ReadFile(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", workflowFile, err)
	}
	return w
}

// step returns the step of job whose id or name is want.
func (w workflow) step(t *testing.T, job, want string) workflowStep {
	t.Helper()
	for _, s := range w.Jobs[job].Steps {
		if s.ID == want || s.Name == want {
			return s
		}
	}
	t.Fatalf("%s: job %q has no step %q", workflowFile, job, want)
	return workflowStep{}
}

// expand replaces the workflow expressions the test knows with their values
// for a release of version, as GitHub would.
func (w workflow) expand(text, version string) string {
	pairs := []string{"${{ needs.version.outputs.version }}", version}
	for name, value := range w.Env {
		pairs = append(pairs, "${{ env."+name+" }}", value)
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// runStep runs a step's shell script as the runner does (bash -e), with the
// workflow's and the step's environment plus extra, and returns its output
// and what it wrote to $GITHUB_OUTPUT.
func (w workflow) runStep(t *testing.T, s workflowStep, extra map[string]string) (output, githubOutput string, err error) {
	t.Helper()
	outFile := filepath.Join(t.TempDir(), "github-output")
	cmd := exec.CommandContext(t.Context(), "bash", "-e", "-c", s.Run)
	cmd.Env = append(os.Environ(), "GITHUB_OUTPUT="+outFile, "GITHUB_STEP_SUMMARY="+os.DevNull)
	for _, env := range []map[string]string{w.Env, s.Env, extra} {
		for name, value := range env {
			cmd.Env = append(cmd.Env, name+"="+value)
		}
	}
	out, err := cmd.CombinedOutput()
	written, _ := os.ReadFile(outFile)
	return string(out), string(written), err
}

// chartVersions reads version and appVersion from a chart's Chart.yaml.
func chartVersions(t *testing.T, dir string) (version, appVersion string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatal(err)
	}
	return chart.Version, chart.AppVersion
}

// imageOf renders the chart in dir with its defaults and returns the
// controller container's image.
func imageOf(t *testing.T, dir string) string {
	t.Helper()
	out, err := helm(t, "template", "eso-bridge", dir, "--namespace", "eso-bridge", "--kube-version", toolchain.KubernetesVersion)
	if err != nil {
		t.Fatalf("helm template %s: %v", dir, err)
	}
	var objects []*unstructured.Unstructured
	for _, doc := range strings.Split(out, "\n---") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil || obj.Object == nil {
			continue
		}
		objects = append(objects, obj)
	}
	return deploymentOf(t, objects).Spec.Template.Spec.Containers[0].Image
}

// copyChart copies the chart into a temporary folder that a step may edit.
func copyChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "eso-bridge")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A user who installs the chart of release X.Y.Z gets the image the release
// workflow pushed for tag vX.Y.Z: the workflow's own scripts are run here
// (the tag check, the digest pin) and the chart rendered before and after.
func TestTheReleaseWorkflowPushesTheImageTheChartDefaultsTo(t *testing.T) {
	w := readWorkflow(t)
	version, appVersion := chartVersions(t, chartDir)
	if version != appVersion {
		t.Fatalf("Chart.yaml: version %s and appVersion %s differ; the release workflow releases both from one tag", version, appVersion)
	}

	// The tag check passes for the chart's own version and refuses another.
	check := w.step(t, "version", "version")
	out, written, err := w.runStep(t, check, map[string]string{"TAG": "v" + version, "CHART_DIR": chartDir})
	if err != nil || strings.TrimSpace(written) != "version="+version {
		t.Errorf("the tag check for v%s: %v, wrote %q, want version=%s\n%s", version, err, written, version, out)
	}
	out, _, err = w.runStep(t, check, map[string]string{"TAG": "v99.0.0", "CHART_DIR": chartDir})
	if err == nil || !strings.Contains(out, "::error") {
		t.Errorf("the tag check let v99.0.0 release a chart of version %s (%v)\n%s", version, err, out)
	}

	// The image is built for both architectures EKS runs and tagged with
	// the version.
	build := w.step(t, "image", "build")
	platforms := strings.Split(fmt.Sprint(build.With["platforms"]), ",")
	for _, want := range []string{"linux/amd64", "linux/arm64"} {
		if !slices.Contains(platforms, want) {
			t.Errorf("the image is built for %v, not %s", platforms, want)
		}
	}
	if push := fmt.Sprint(build.With["push"]); push != "true" {
		t.Errorf("the build step's push is %s", push)
	}
	pushed := w.expand(fmt.Sprint(build.With["tags"]), version)
	if got := imageOf(t, chartDir); got != pushed {
		t.Errorf("the chart's default image is %s; the workflow pushes %s", got, pushed)
	}

	// The packaged chart pulls that image by the digest the build reported.
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	pinned := copyChart(t)
	out, _, err = w.runStep(t, w.step(t, "chart", "Pin the chart's default image to the pushed digest"),
		map[string]string{"DIGEST": digest, "CHART_DIR": pinned})
	if err != nil {
		t.Fatalf("the digest pin: %v\n%s", err, out)
	}
	repository, _, _ := strings.Cut(pushed, ":")
	if got, want := imageOf(t, pinned), repository+"@"+digest; got != want {
		t.Errorf("the packaged chart's image is %s, want %s", got, want)
	}

	// The chart is linted and packaged by the Helm the tests use.
	if got := w.Env["HELM_VERSION"]; got != toolchain.HelmVersion {
		t.Errorf("the workflow packages with Helm %s; the tests lint with %s", got, toolchain.HelmVersion)
	}
}

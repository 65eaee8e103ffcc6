package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// dockerfileBuild is the Dockerfile's build step.
var dockerfileBuild = regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 .*go build .*)$`)

// buildImageBinary builds the controller as the image's build stage does,
// for this machine.
func buildImageBinary(t *testing.T) string {
	t.Helper()
	dockerfile, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	match := dockerfileBuild.FindSubmatch(dockerfile)
	if match == nil {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 ... go build` step")
	}
	binary := filepath.Join(t.TempDir(), "eso-bridge")
	command := strings.NewReplacer("${VERSION}", "v0.0.0-install-test", "/out/eso-bridge", binary,
		"${TARGETOS}", "linux", "${TARGETARCH}", goEnv(t, "GOARCH")).Replace(string(match[1]))
	build := exec.CommandContext(t.Context(), "sh", "-c", command)
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	return binary
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// The README's install path with the local control plane standing in for
// EKS: the chart packaged as the release workflow packages it, installed with
// `helm install` (which checks the chart's kubeVersion against the API
// server's), then the image's binary run with the installed Deployment's
// arguments and environment, as its ServiceAccount. A rotation restarts the
// consumer once.
func TestThePackagedChartInstallsAndItsControllerRotates(t *testing.T) {
	s := harness.NewScenario(t)
	dist := t.TempDir()
	if out, err := helm(t, "package", chartDir, "--destination", dist); err != nil {
		t.Fatalf("helm package: %v\n%s", err, out)
	}
	version, _ := chartVersions(t, chartDir)
	packaged := filepath.Join(dist, "eso-bridge-"+version+".tgz")
	const release = "packaged"
	out, err := helm(t, "install", release, packaged, "--namespace", s.NS, "--kubeconfig", s.CP.KubeconfigPath,
		"--set", "scope.namespaces={"+s.NS+"}", "--set", "aws.pollInterval=1s", "--set", "settle=1s", "--set", "aws.readStoreKeys=true")
	if err != nil {
		t.Fatalf("helm install %s: %v", packaged, err)
	}
	if !strings.Contains(out, "STATUS: deployed") || !strings.Contains(out, "is installed as") {
		t.Errorf("helm install printed no deployed status or release notes:\n%s", out)
	}
	t.Cleanup(func() { _, _ = helm(t, "uninstall", release, "--namespace", s.NS, "--kubeconfig", s.CP.KubeconfigPath) })

	var deployments appsv1.DeploymentList
	if err := s.Client.List(s.Ctx, &deployments, client.InNamespace(s.NS), client.MatchingLabels{"app.kubernetes.io/instance": release}); err != nil || len(deployments.Items) != 1 {
		t.Fatalf("the release's Deployment: %v, %d found", err, len(deployments.Items))
	}
	deployment := deployments.Items[0]
	container := deployment.Spec.Template.Spec.Containers[0]
	args := []string{}
	for _, arg := range container.Args {
		switch {
		case strings.HasPrefix(arg, "--metrics-bind-address="):
			arg = "--metrics-bind-address=0"
		case strings.HasPrefix(arg, "--health-probe-bind-address="):
			arg = "--health-probe-bind-address=127.0.0.1:0"
		}
		args = append(args, arg)
	}
	kubeconfig := impersonating(t, s.CP, "system:serviceaccount:"+s.NS+":"+deployment.Spec.Template.Spec.ServiceAccountName, s.NS)
	controller := exec.CommandContext(t.Context(), buildImageBinary(t), append(args, "--kubeconfig", kubeconfig)...)
	controller.Env = append(os.Environ(), "POD_NAMESPACE="+s.NS)
	for _, env := range container.Env {
		if env.ValueFrom == nil {
			controller.Env = append(controller.Env, env.Name+"="+env.Value)
		}
	}
	for name, value := range s.CP.AWSEnv() {
		controller.Env = append(controller.Env, name+"="+value)
	}
	var log lockedBuffer
	controller.Stdout, controller.Stderr = &log, &log
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	if err := controller.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = controller.Process.Signal(os.Interrupt)
		_ = controller.Wait()
		if t.Failed() {
			t.Logf("the controller's log:\n%s", log.String())
		}
	})
	s.WaitAdopted(api)
	time.Sleep(3 * time.Second) // the AWS provider's first looks: versions it adopts
	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	s.WaitEvent(events.ReasonRolloutComplete, "api")
	if err := controlplane.WaitForRollout(s.Ctx, s.Client, api); err != nil {
		t.Fatal(err)
	}
}

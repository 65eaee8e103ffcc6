package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

// monitors are the Prometheus Operator kinds the chart can create.
var monitors = []schema.GroupVersionKind{
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"},
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"},
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"},
}

// kinds counts the objects of a manifest by kind.
func kinds(objects []*unstructured.Unstructured) map[string]int {
	counts := map[string]int{}
	for _, obj := range objects {
		counts[obj.GetKind()]++
	}
	return counts
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	c := harness.ControlPlane(t).Client
	err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// deploymentOf returns the one Deployment among objects, typed.
func deploymentOf(t *testing.T, objects []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	for _, obj := range objects {
		if obj.GetKind() == "Deployment" {
			deployment := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, deployment); err != nil {
				t.Fatal(err)
			}
			return deployment
		}
	}
	t.Fatal("the manifest has no Deployment")
	return nil
}

// The chart renders, and the API server admits every object in a
// server-side dry run: with the defaults, and with a values file that turns
// every option on.
func TestHelmChartAppliesWithDefaultsAndEveryOption(t *testing.T) {
	for _, gvk := range monitors {
		harness.InstallOpenCRD(t, gvk)
	}
	cases := []struct {
		name  string
		args  []string
		kinds map[string]int
	}{
		{"defaults", nil, map[string]int{
			"Deployment": 1, "ServiceAccount": 1, "ClusterRole": 3, "ClusterRoleBinding": 2, "Role": 1, "RoleBinding": 1,
			"Service": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1,
		}},
		{"every option", []string{"-f", filepath.Join(chartDir, "ci", "all-on-values.yaml"), "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
			"--api-versions", "monitoring.coreos.com/v1/PodMonitor", "--api-versions", "monitoring.coreos.com/v1/PrometheusRule"}, map[string]int{
			"Deployment": 1, "ServiceAccount": 1, "ClusterRole": 3, "ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 3,
			"Service": 1, "PodDisruptionBudget": 1, "ServiceMonitor": 1, "PodMonitor": 1, "PrometheusRule": 1, "ConfigMap": 1, "NetworkPolicy": 1,
		}},
	}
	// The values file restricts eso-bridge to these namespaces.
	ensureNamespace(t, "payments")
	ensureNamespace(t, "checkout")
	ensureNamespace(t, "monitoring") // the dashboard's

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := harness.Namespace(t)
			manifest := renderChart(t, ns, tc.args...)
			objects, err := controlplane.ApplyYAML(t.Context(), harness.ControlPlane(t).Client, []byte(manifest), controlplane.ApplyOptions{DryRun: true})
			if err != nil {
				t.Fatalf("server-side dry run: %v\n%s", err, manifest)
			}
			if got := kinds(objects); !maps.Equal(got, tc.kinds) {
				t.Errorf("objects by kind: %v, want %v", got, tc.kinds)
			}
			expectRestrictedPod(t, deploymentOf(t, objects))
		})
	}
	t.Run("every option reaches the Deployment", func(t *testing.T) {
		objects, err := controlplane.DecodeYAML([]byte(renderChart(t, "platform", "-f", filepath.Join(chartDir, "ci", "all-on-values.yaml"))))
		if err != nil {
			t.Fatal(err)
		}
		deployment := deploymentOf(t, objects)
		container := deployment.Spec.Template.Spec.Containers[0]
		if deployment.Name != "platform-eso-bridge" {
			t.Errorf("the Deployment is %s, want fullnameOverride's platform-eso-bridge", deployment.Name)
		}
		if want := "111122223333.dkr.ecr.us-east-1.amazonaws.com/eso-bridge@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; container.Image != want {
			t.Errorf("image %s, want the digest's %s", container.Image, want)
		}
		if pod := deployment.Spec.Template.Spec; len(pod.Volumes) != 1 || pod.Volumes[0].Name != "otlp-ca" || len(container.VolumeMounts) != 1 ||
			container.VolumeMounts[0].MountPath != "/etc/otlp-ca" || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser != 10001 {
			t.Errorf("volumes %+v, mounts %+v, pod securityContext %+v: want the values' CA bundle and user 10001", pod.Volumes, container.VolumeMounts, pod.SecurityContext)
		}
		if kinds := kinds(objects); kinds["ServiceMonitor"] != 0 || kinds["PodMonitor"] != 0 || kinds["PrometheusRule"] != 0 {
			t.Errorf("monitors rendered for a cluster that serves no monitoring.coreos.com/v1: %v", kinds)
		}
		for _, arg := range []string{"--auto-all", "--dry-run", "--namespaces=payments,checkout", "--exclude-namespaces=kube-system", "--namespace-selector=team=payments",
			"--settle=5s", "--max-gate-wait=15m", "--rollout-deadline=20m", "--rollouts-per-second=2.5", "--rollout-burst=10",
			"--namespace-rollouts-per-second=1", "--namespace-rollout-burst=5", "--max-rollouts-in-progress=20", "--namespace-max-rollouts-in-progress=2",
			"--restart-window=Mon-Fri 09:00-17:00 Europe/Paris; Sat 10:00-12:00 Europe/Paris", "--workers=8", "--aws-poll-interval=1m",
			"--aws-events-queue-url=https://sqs.eu-west-1.amazonaws.com/111122223333/eso-bridge-events",
			"--aws-events-queue-url=https://sqs.us-east-1.amazonaws.com/111122223333/eso-bridge-events", "--aws-read-store-keys",
			"--leader-election-id=eso-bridge-payments", "--metrics-bind-address=:9090", "--metrics-secure=true", "--health-probe-bind-address=:9091", "--log-format=text"} {
			if !slices.Contains(container.Args, arg) {
				t.Errorf("the Deployment's args %q lack %s", container.Args, arg)
			}
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range container.Env {
			env[e.Name] = e
		}
		if e := env["GOMEMLIMIT"]; e.Value != "483183820" { // 90% of the values' 512Mi
			t.Errorf("GOMEMLIMIT is %+v, want 483183820 (90%% of limits.memory 512Mi)", e)
		}
		for name, want := range map[string]string{"AWS_REGION": "eu-west-1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"} {
			if env[name].Value != want {
				t.Errorf("env %s = %q, want %q", name, env[name].Value, want)
			}
		}
		for _, obj := range objects {
			if obj.GetKind() == "ServiceAccount" && obj.GetAnnotations()["eks.amazonaws.com/role-arn"] != "arn:aws:iam::111122223333:role/eso-bridge" {
				t.Errorf("the ServiceAccount's annotations %v lack the IRSA role", obj.GetAnnotations())
			}
		}
	})
}

// expectRestrictedPod checks the pod template against the restricted Pod
// Security Standard's container settings.
func expectRestrictedPod(t *testing.T, deployment *appsv1.Deployment) {
	t.Helper()
	pod := deployment.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("the pod's securityContext %+v is not non-root with seccomp RuntimeDefault", pod.SecurityContext)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s: securityContext %+v is not read-only, without privilege escalation and capabilities", c.Name, sc)
		}
	}
}

// The chart's pods are admitted in a namespace that enforces the restricted
// Pod Security Standard, and become Ready: the kube-apiserver's own
// PodSecurity admission, not a list of fields, judges the securityContext.
func TestChartPodsRunUnderTheRestrictedPodSecurityStandard(t *testing.T) {
	ns := harness.Namespace(t)
	c := harness.ControlPlane(t).Client
	namespace := &corev1.Namespace{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: ns}, namespace); err != nil {
		t.Fatal(err)
	}
	namespace.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if err := c.Update(t.Context(), namespace); err != nil {
		t.Fatal(err)
	}
	objects, err := controlplane.ApplyYAML(t.Context(), c, []byte(renderChart(t, ns)), controlplane.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deployment := deploymentOf(t, objects)
	// kwok makes admitted pods Ready at once: a minute is ample.
	ctx, cancel := context.WithTimeout(harness.Context(t), time.Minute)
	defer cancel()
	if err := controlplane.WaitForRollout(ctx, c, deployment); err != nil {
		t.Fatalf("%v\nEvents:\n%s", err, harness.EventsText(t.Context(), c, ns))
	}
}

// A value of the wrong type is refused by the chart's schema, naming the value.
func TestHelmChartSchemaRejectsAWrongType(t *testing.T) {
	for _, set := range []string{"replicaCount=two", "settle=soon", "log.format=xml", "scope.namespaces=team-a"} {
		_, err := helm(t, "template", "eso-bridge", chartDir, "--kube-version", toolchain.KubernetesVersion, "--set", set)
		var herr *helmError
		key := strings.SplitN(set, "=", 2)[0]
		if !errors.As(err, &herr) || !strings.Contains(herr.stderr, "schema") || !strings.Contains(herr.stderr, strings.ReplaceAll(key, ".", "/")) {
			t.Errorf("helm template --set %s: %v, want a schema error naming %s", set, err, key)
		}
	}
}

// GOMEMLIMIT is set below the memory limit, with headroom; a limit it
// cannot take 90% of is refused with a message naming the override.
func TestHelmChartSetsGOMEMLIMITBelowTheLimit(t *testing.T) {
	objects, err := controlplane.DecodeYAML([]byte(renderChart(t, "eso-bridge", "--set", "resources.limits.memory=1Gi")))
	if err != nil {
		t.Fatal(err)
	}
	env := deploymentOf(t, objects).Spec.Template.Spec.Containers[0].Env
	if i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" }); i < 0 || env[i].Value != "966367641" {
		t.Errorf("env %+v, want GOMEMLIMIT 966367641 (90%% of 1Gi)", env)
	}
	_, err = helm(t, "template", "eso-bridge", chartDir, "--kube-version", toolchain.KubernetesVersion, "--set", "resources.limits.memory=1.5Gi")
	var herr *helmError
	if !errors.As(err, &herr) || !strings.Contains(herr.stderr, "goMemLimit") {
		t.Errorf("a limit of 1.5Gi: %v, want an error naming goMemLimit", err)
	}
}

// The Kustomize base is the chart with its defaults (labels aside), and
// applies.
func TestKustomizeBaseIsTheChartDefaultsAndApplies(t *testing.T) {
	cp := harness.ControlPlane(t)
	out, err := runKubectl(t, "kustomize", filepath.Join(repo, "manifests", "kustomize", "base"))
	if err != nil {
		t.Fatal(err)
	}
	built, err := controlplane.DecodeYAML([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	chart, err := controlplane.DecodeYAML([]byte(renderChart(t, "eso-bridge")))
	if err != nil {
		t.Fatal(err)
	}
	byKey := func(objects []*unstructured.Unstructured) map[string]string {
		m := map[string]string{}
		for _, obj := range objects {
			obj = obj.DeepCopy()
			obj.SetLabels(nil)
			data, _ := json.Marshal(obj.Object)
			m[obj.GetKind()+"/"+obj.GetNamespace()+"/"+obj.GetName()] = string(data)
		}
		return m
	}
	kustomized, charted := byKey(built), byKey(chart)
	delete(kustomized, "Namespace//eso-bridge")
	for key, want := range charted {
		if got, ok := kustomized[key]; !ok {
			t.Errorf("the Kustomize base lacks %s", key)
		} else if got != want {
			t.Errorf("%s differs from the chart's defaults:\nkustomize: %s\nchart:     %s", key, got, want)
		}
	}
	for key := range kustomized {
		if _, ok := charted[key]; !ok {
			t.Errorf("the Kustomize base has %s, which the chart does not", key)
		}
	}
	// The namespace first, for real: a dry run creates nothing to put the rest in.
	if _, err := controlplane.ApplyYAML(t.Context(), cp.Client, []byte(out), controlplane.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func runKubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cp := harness.ControlPlane(t)
	cmd := exec.CommandContext(t.Context(), cp.Binaries.Kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cp.KubeconfigPath)
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", errors.New(string(exit.Stderr))
		}
		return "", err
	}
	return string(out), nil
}

// Every manifest in examples/ applies to the API server as it is, into any
// namespace.
func TestEveryExampleApplies(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found (%v)", err)
	}
	ns := harness.Namespace(t)
	for _, file := range files {
		manifest, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objects, err := controlplane.ApplyYAML(t.Context(), harness.ControlPlane(t).Client, manifest, controlplane.ApplyOptions{Namespace: ns})
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
			continue
		}
		t.Logf("%s: %d object(s) applied", filepath.Base(file), len(objects))
	}
}

// The chart works as a subchart: a parent chart that sets global values (as
// umbrella charts do) and the subchart's own under its name renders, and the
// API server admits every object.
func TestHelmChartWorksAsASubchartWithGlobalValues(t *testing.T) {
	parent := t.TempDir()
	if err := os.CopyFS(filepath.Join(parent, "charts", "eso-bridge"), os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n  - name: eso-bridge\n    version: \">=0.0.0-0\"\n",
		"values.yaml": "global:\n  imageRegistry: registry.example.com\n  imagePullSecrets: [regcred]\n" +
			"eso-bridge:\n  replicaCount: 1\n  autoAll: true\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(parent, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ns := harness.Namespace(t)
	out, err := helm(t, "template", "platform", parent, "--namespace", ns, "--kube-version", toolchain.KubernetesVersion)
	if err != nil {
		t.Fatalf("helm template of a parent chart: %v", err)
	}
	objects, err := controlplane.ApplyYAML(t.Context(), harness.ControlPlane(t).Client, []byte(out), controlplane.ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatalf("server-side dry run: %v\n%s", err, out)
	}
	deployment := deploymentOf(t, objects)
	if deployment.Name != "platform-eso-bridge" || *deployment.Spec.Replicas != 1 || !slices.Contains(deployment.Spec.Template.Spec.Containers[0].Args, "--auto-all") {
		t.Errorf("the subchart's Deployment %s (%d replicas, args %q) did not take the parent's values for it", deployment.Name, *deployment.Spec.Replicas,
			deployment.Spec.Template.Spec.Containers[0].Args)
	}
}

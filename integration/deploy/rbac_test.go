package deploy_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/cmd/eso-bridge/app"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// The controller, started with exactly the arguments of the chart's
// Deployment and authenticated as the chart's ServiceAccount — bound to the
// chart's roles only, not an admin — performs a rotation end to end: the
// trigger, ESO's write, one restart, its rollout reported. Nothing it asked
// for was refused. Only the listen addresses are moved to loopback. Its
// metrics answer, as the chart sets them up, only a scraper bound to the
// chart's metrics-reader role.
func TestControllerWithTheChartsRBACAndArgumentsPerformsARotation(t *testing.T) {
	s := harness.NewScenario(t)
	// Tracing on, to a collector on loopback: it needs the most permissions.
	collector := harness.StartOTLPReceiver(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
	const release = "rbac-e2e"
	manifest := renderChartAs(t, release, s.NS, "--set", "scope.namespaces={"+s.NS+"}", "--set", "aws.pollInterval=1s", "--set", "settle=1s",
		// The test's store reads static keys from a Secret, as the chart allows.
		"--set", "aws.readStoreKeys=true",
		"--set", "tracing.otlpEndpoint="+collector.URL)
	objects, err := controlplane.DecodeYAML([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var rbac []*unstructured.Unstructured
	for _, obj := range objects {
		if obj.GetKind() != "Deployment" {
			rbac = append(rbac, obj)
		}
	}
	if err := controlplane.ApplyObjects(s.Ctx, s.Client, rbac, controlplane.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	deployment := deploymentOf(t, objects)
	container := deployment.Spec.Template.Spec.Containers[0]
	if container.Args[0] != "run" {
		t.Fatalf("the chart's args %q do not start with the run command", container.Args)
	}
	var args []string
	metricsAddr, err := controlplane.FreeLoopbackAddress()
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range container.Args[1:] {
		switch {
		case strings.HasPrefix(arg, "--metrics-bind-address="):
			arg = "--metrics-bind-address=" + metricsAddr
		case strings.HasPrefix(arg, "--health-probe-bind-address="):
			arg = "--health-probe-bind-address=127.0.0.1:0"
		}
		args = append(args, arg)
	}
	kubeconfig := impersonating(t, s.CP, "system:serviceaccount:"+s.NS+":"+deployment.Spec.Template.Spec.ServiceAccountName, s.NS)
	// The chart's environment, then the AWS provider's default credential
	// chain pointed at the local endpoint.
	for _, env := range container.Env {
		if env.ValueFrom == nil {
			t.Setenv(env.Name, env.Value)
		}
	}
	for name, value := range s.CP.AWSEnv() {
		t.Setenv(name, value)
	}

	es := s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	api := s.Workload(harness.WorkloadKinds[0], "api", nil, "db")
	var log lockedBuffer
	ctx, cancel := context.WithCancel(s.Ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, append(args, "--kubeconfig", kubeconfig), &log, "test") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("eso-bridge run exited with: %v", err)
		}
		if t.Failed() {
			t.Logf("eso-bridge log:\n%s", log.String())
		}
	})
	s.WaitAdopted(api)
	// Nobody probes /readyz here: the controller finds out by itself that
	// it has caught up with what happened while it was not running.
	s.WaitFor("the controller's log to say it caught up", func() (bool, string) {
		return strings.Contains(log.String(), `"caught up: every ExternalSecret reconciled once`), "no such line yet"
	})
	// Nor does anyone ask it to give back what its start used.
	s.WaitFor("the controller's log to say the start's work is done", func() (bool, string) {
		return strings.Contains(log.String(), `"the start's work is done: its memory returned to the system"`), "no such line yet"
	})
	time.Sleep(3 * time.Second) // the AWS provider's first looks: versions it adopts

	if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey("db"), "v2"); err != nil {
		t.Fatal(err)
	}
	s.ExpectRestarts(api, 1)
	s.WaitEvent(events.ReasonRolloutComplete, "api")
	if got := s.Get(es).GetAnnotations()[annotations.AnnotationTraceparent]; got == "" {
		t.Error("the ExternalSecret was not triggered: the AWS provider did not see the rotation")
	}
	s.WaitFor("the rotation's workload.rollout span at the collector", func() (bool, string) {
		n := collector.Count("workload.rollout")
		return n == 1, fmt.Sprintf("%d workload.rollout spans", n)
	})
	reader := ""
	for _, obj := range rbac {
		if obj.GetKind() == "ClusterRole" && strings.HasSuffix(obj.GetName(), "-metrics-reader") {
			reader = obj.GetName()
		}
	}
	if reader == "" {
		t.Fatal("the chart has no metrics-reader ClusterRole")
	}
	scraped := expectMetricsOnlyForReaders(t, s, "https://"+metricsAddr+"/metrics", reader)
	// What the chart's alerts and dashboard read is there to read.
	for _, name := range monitoredMetrics(t) {
		if !strings.Contains(scraped, "\n"+name+" ") && !strings.Contains(scraped, "\n"+name+"{") {
			t.Errorf("the chart's alerts or dashboard read %s, which the controller does not export", name)
		}
	}
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "forbidden") {
			t.Errorf("a request was refused: %s", line)
		}
	}
}

// expectMetricsOnlyForReaders checks that url answers a ServiceAccount bound
// to the ClusterRole reader with eso-bridge's metrics, and refuses one that
// is not (403) and a request without a token (401). It returns what the
// reader scraped.
func expectMetricsOnlyForReaders(t *testing.T, s *harness.Scenario, url, reader string) string {
	t.Helper()
	clientset, err := kubernetes.NewForConfig(s.CP.Config)
	if err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: name}}
		if err := s.Client.Create(s.Ctx, sa); err != nil {
			t.Fatal(err)
		}
		tr, err := clientset.CoreV1().ServiceAccounts(s.NS).CreateToken(s.Ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	scraper, stranger := token("prometheus"), token("stranger")
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: s.NS + "-prometheus"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: s.NS, Name: "prometheus"}},
	}
	if err := s.Client.Create(s.Ctx, binding); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), binding) })
	// The certificate is self-signed: the token is what is checked.
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var encoding string
	get := func(token string) (int, string) {
		req, err := http.NewRequestWithContext(s.Ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// As Prometheus asks; set by hand, the answer is not decompressed
		// for us.
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		encoding = resp.Header.Get("Content-Encoding")
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var scraped string
	s.WaitFor("the metrics reader to be answered", func() (bool, string) {
		code, body := get(scraper)
		scraped = body
		return code == http.StatusOK && strings.Contains(body, "eso_bridge_restarts_total"), fmt.Sprintf("%d: %.200s", code, body)
	})
	if encoding != "" {
		t.Errorf("the metrics came with Content-Encoding %q: eso-bridge serves them uncompressed", encoding)
	}
	t.Logf("one scrape of the metrics: %d bytes", len(scraped))
	if code, body := get(stranger); code != http.StatusForbidden {
		t.Errorf("a ServiceAccount without %s got %d (%.200s), want 403", reader, code, body)
	}
	if code, body := get(""); code != http.StatusUnauthorized {
		t.Errorf("a request without a token got %d (%.200s), want 401", code, body)
	}
	if code, body := get("not-a-token-the-api-server-issued"); code != http.StatusUnauthorized {
		t.Errorf("a request with a token the API server rejects got %d (%.200s), want 401", code, body)
	}
	return scraped
}

// impersonating writes a kubeconfig whose requests the API server
// authorizes as the ServiceAccount user: the admin's token, impersonating.
func impersonating(t *testing.T, cp *controlplane.ControlPlane, user, namespace string) string {
	t.Helper()
	config := clientcmdapi.NewConfig()
	config.Clusters["local"] = &clientcmdapi.Cluster{Server: cp.Config.Host, CertificateAuthorityData: cp.Config.CAData}
	config.AuthInfos["as-serviceaccount"] = &clientcmdapi.AuthInfo{
		Token: cp.Config.BearerToken, Impersonate: user,
		ImpersonateGroups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	config.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "as-serviceaccount"}
	config.CurrentContext = "local"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer collects the controller's log while it writes from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

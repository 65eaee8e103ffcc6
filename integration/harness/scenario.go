package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// Scenario is one test's namespace on the local control plane, with a
// SecretStore for the local AWS endpoint, and the steps tests of eso-bridge
// take in it.
type Scenario struct {
	T      *testing.T
	Ctx    context.Context
	CP     *controlplane.ControlPlane
	Client client.Client
	NS     string
	// BridgeConfig, when set, is the connection StartBridge gives the
	// controller instead of the control plane's own (a test that watches
	// the controller's requests wraps its transport).
	BridgeConfig *rest.Config
}

// NewScenario gives the test a fresh namespace with a SecretStore.
func NewScenario(t *testing.T) *Scenario {
	t.Helper()
	s := &Scenario{T: t, Ctx: Context(t), CP: ControlPlane(t), NS: Namespace(t)}
	s.Client = s.CP.Client
	SecretStore(t, s.NS)
	return s
}

// ExternalSecret puts value in AWS under a key unique to the test, creates an
// ExternalSecret for it (refreshInterval 1h, so only a trigger refreshes it)
// and waits until ESO has synced it.
func (s *Scenario) ExternalSecret(name, value string, annotations map[string]string) *esv1.ExternalSecret {
	s.T.Helper()
	if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, s.RemoteKey(name), value); err != nil {
		s.T.Fatal(err)
	}
	WaitPastTheSecond()
	es := controlplane.ExternalSecret(s.NS, name, s.RemoteKey(name), "value", time.Hour)
	es.Annotations = annotations
	if err := s.Client.Create(s.Ctx, es); err != nil {
		s.T.Fatalf("creating ExternalSecret %s: %v", name, err)
	}
	synced, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es))
	if err != nil {
		s.T.Fatal(err)
	}
	return synced
}

// ExternalSecretAtLabel creates the remote secret RemoteKey(name), whose
// AWSCURRENT holds "current-1" and whose label holds value, and an
// ExternalSecret name reading that label (a blue/green switch), with
// annotations, synced.
func (s *Scenario) ExternalSecretAtLabel(name, label, value string, annotations map[string]string) *esv1.ExternalSecret {
	s.T.Helper()
	key := s.RemoteKey(name)
	if _, err := s.CP.SecretsManager.CreateSecret(s.Ctx, key, "current-1"); err != nil {
		s.T.Fatal(err)
	}
	if _, err := s.CP.SecretsManager.PutLabelled(s.Ctx, key, value, label); err != nil {
		s.T.Fatal(err)
	}
	WaitPastTheSecond()
	es := controlplane.ExternalSecret(s.NS, name, key, "value", time.Hour)
	es.Annotations = annotations
	es.Spec.Data[0].RemoteRef.Version = label
	if err := s.Client.Create(s.Ctx, es); err != nil {
		s.T.Fatal(err)
	}
	synced, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKeyFromObject(es))
	if err != nil {
		s.T.Fatal(err)
	}
	if got := s.SecretData(name, "value"); got != value {
		s.T.Fatalf("ESO synced %q, want %s (the bed: ESO reads the label)", got, value)
	}
	return synced
}

// WaitPastTheSecond returns once the clock is in the next second, and a
// little past it. ESO's status records its refresh to the second, so an
// ExternalSecret synced in the second its secret was made may not hold it,
// and eso-bridge triggers a spare refresh to be sure: tests that mean to
// start from a settled state create their ExternalSecrets after this.
func WaitPastTheSecond() {
	// The next whole second at least 300 ms from now, and 200 ms into it:
	// eso-bridge counts a change 100 ms before ESO's second as in doubt.
	next := time.Now().Add(300 * time.Millisecond).Truncate(time.Second).Add(time.Second + 200*time.Millisecond)
	time.Sleep(time.Until(next))
}

// SecretStoreLike creates SecretStore name beside the scenario's own, with
// its spec changed by change (another region, service or role).
func (s *Scenario) SecretStoreLike(name string, change func(*esv1.AWSProvider)) *esv1.SecretStore {
	s.T.Helper()
	var own esv1.SecretStore
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: controlplane.SecretStoreName}, &own); err != nil {
		s.T.Fatal(err)
	}
	store := &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: name}, Spec: *own.Spec.DeepCopy()}
	change(store.Spec.Provider.AWS)
	if err := s.Client.Create(s.Ctx, store); err != nil {
		s.T.Fatal(err)
	}
	return store
}

// SecretData is key of Secret name in the scenario's namespace, or the error
// reading it.
func (s *Scenario) SecretData(name, key string) string {
	var secret corev1.Secret
	if err := s.Client.Get(s.Ctx, client.ObjectKey{Namespace: s.NS, Name: name}, &secret); err != nil {
		return err.Error()
	}
	return string(secret.Data[key])
}

// RemoteKey is the AWS secret name ExternalSecret(name) reads: unique to the
// test's namespace.
func (s *Scenario) RemoteKey(name string) string { return s.NS + "/" + name }

// Rotate puts a new value in AWS and makes ESO refresh the ExternalSecret at
// once — by hand, as the AWS provider does when it sees the move — then waits
// for ESO to confirm.
func (s *Scenario) Rotate(names ...string) {
	s.T.Helper()
	for _, name := range names {
		if _, err := s.CP.SecretsManager.PutValue(s.Ctx, s.RemoteKey(name), "rotated-"+time.Now().Format(time.RFC3339Nano)); err != nil {
			s.T.Fatal(err)
		}
	}
	s.Refresh(names...)
}

// Refresh makes ESO fetch the ExternalSecrets again and waits for the sync.
func (s *Scenario) Refresh(names ...string) {
	s.T.Helper()
	s.RequestRefresh(names...)
	for _, name := range names {
		if _, err := controlplane.WaitForSync(s.Ctx, s.Client, client.ObjectKey{Namespace: s.NS, Name: name}); err != nil {
			s.T.Fatal(err)
		}
	}
}

// RequestRefresh makes ESO fetch the ExternalSecrets again, as a user's
// annotation change does, without waiting: the sync may fail.
func (s *Scenario) RequestRefresh(names ...string) {
	s.T.Helper()
	for _, name := range names {
		es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: s.NS, Name: name}}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.eso-bridge.io/refresh":%q}}}`, time.Now().Format(time.RFC3339Nano))
		if err := s.Client.Patch(s.Ctx, es, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
			s.T.Fatalf("annotating ExternalSecret %s: %v", name, err)
		}
	}
}

var setLoggerOnce sync.Once

// StartBridge runs eso-bridge in-process, scoped to the scenario's namespace
// unless opts says otherwise, until the test ends or stop is called.
func (s *Scenario) StartBridge(opts bridge.Options) (stop func()) {
	s.T.Helper()
	return s.StartBridgeWith(opts, bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0"})
}

// StartBridgeWith is startBridge with process-level options (leader election).
func (s *Scenario) StartBridgeWith(opts bridge.Options, mo bridge.ManagerOptions) (stop func()) {
	s.T.Helper()
	setLoggerOnce.Do(func() {
		logFile, err := os.Create(filepath.Join(s.CP.LogDir, "eso-bridge.log"))
		if err != nil {
			s.T.Fatal(err)
		}
		ctrl.SetLogger(crzap.New(crzap.WriteTo(logFile), crzap.UseDevMode(true)))
	})
	if opts.Namespaces == nil && opts.NamespaceSelector == "" {
		opts.Namespaces = []string{s.NS}
	}
	if mo.DigestKeySecret.Name == "" {
		// One key per test, kept across the test's controller restarts.
		mo.DigestKeySecret = types.NamespacedName{Namespace: s.NS, Name: bridge.DefaultDigestKeySecret}
	}
	cfg := s.CP.Config
	if s.BridgeConfig != nil {
		cfg = s.BridgeConfig
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(ctx, cfg, opts, mo)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				s.T.Errorf("eso-bridge exited with: %v", err)
			}
		})
	}
	s.T.Cleanup(stop)
	s.T.Cleanup(func() {
		if s.T.Failed() {
			s.T.Logf("eso-bridge log lines about %s:\n%s", s.NS, bridgeLogAbout(filepath.Join(s.CP.LogDir, "eso-bridge.log"), s.NS, 80))
		}
	})
	return stop
}

// BridgeLog returns everything the in-process controllers have logged.
func BridgeLog(t testing.TB, s *Scenario) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.CP.LogDir, "eso-bridge.log"))
	if err != nil {
		t.Fatalf("reading the controller's log: %v", err)
	}
	return string(data)
}

// bridgeLogAbout returns the last lines of the in-process controller's log
// that mention text.
func bridgeLogAbout(path, text string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var matching []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, text) {
			matching = append(matching, line)
		}
	}
	if len(matching) > lines {
		matching = matching[len(matching)-lines:]
	}
	return strings.Join(matching, "\n")
}

// TestOptions are the defaults with a short settle window, as tests rotate
// sources within milliseconds of each other.
func TestOptions() bridge.Options {
	opts := bridge.DefaultOptions()
	opts.Settle = time.Second
	return opts
}

// WaitFor polls condition until it holds, failing with what it last said.
func (s *Scenario) WaitFor(what string, condition func() (bool, string)) {
	s.T.Helper()
	last := ""
	err := wait.PollUntilContextCancel(s.Ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		var ok bool
		ok, last = condition()
		return ok, nil
	})
	if err != nil {
		s.T.Fatalf("%s: %v (last: %s)", what, err, last)
	}
}

// WaitAdopted waits until eso-bridge has recorded a source hash on the workload.
func (s *Scenario) WaitAdopted(w client.Object) {
	s.T.Helper()
	s.WaitFor("adoption of "+w.GetName(), func() (bool, string) {
		obj := s.Get(w)
		return obj.GetAnnotations()[annotations.AnnotationSourceHash] != "", fmt.Sprintf("annotations %v", obj.GetAnnotations())
	})
}

// Get reads the current state of w into a new object of its type.
func (s *Scenario) Get(w client.Object) client.Object {
	s.T.Helper()
	obj := w.DeepCopyObject().(client.Object)
	if err := s.Client.Get(s.Ctx, client.ObjectKeyFromObject(w), obj); err != nil {
		s.T.Fatalf("reading %s: %v", w.GetName(), err)
	}
	return obj
}

// Restarts counts the workload's rollouts since it was created, from its
// revision number as `kubectl rollout history` shows it: each pod-template
// change is a new revision, and eso-bridge's restarts are the only template
// changes these tests make.
func (s *Scenario) Restarts(w client.Object) int64 {
	s.T.Helper()
	n, err := controlplane.Revisions(s.Ctx, s.Client, s.Get(w))
	if err != nil {
		s.T.Fatal(err)
	}
	return int64(max(n-1, 0))
}

// SettleMargin is how long a test watches for a second, unwanted restart: the
// settle window plus ESO's and the controller's reaction time, with room.
const SettleMargin = 4 * time.Second

// ExpectRestarts waits until w has been restarted want times and the rollout
// has completed, then checks that no further restart follows.
func (s *Scenario) ExpectRestarts(w client.Object, want int64) {
	s.T.Helper()
	s.WaitFor(fmt.Sprintf("%s restarted %d time(s)", w.GetName(), want), func() (bool, string) {
		got := s.Restarts(w)
		return got >= want, fmt.Sprintf("%d restart(s)", got)
	})
	if err := controlplane.WaitForRollout(s.Ctx, s.Client, w); err != nil {
		s.T.Fatal(err)
	}
	s.ExpectNoMoreRestartsThan(w, want)
}

// ExpectNoMoreRestartsThan watches w for SettleMargin and fails if it is
// restarted more than want times.
func (s *Scenario) ExpectNoMoreRestartsThan(w client.Object, want int64) {
	s.T.Helper()
	deadline := time.Now().Add(SettleMargin)
	for time.Now().Before(deadline) {
		if got := s.Restarts(w); got > want {
			s.T.Fatalf("%s was restarted %d times, want %d", w.GetName(), got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitEvent waits for an Event with reason about the object named regarding,
// and returns its message.
func (s *Scenario) WaitEvent(reason, regarding string) string {
	s.T.Helper()
	return s.WaitEventSaying(reason, regarding, "")
}

// WaitEventSaying waits for an Event with reason about the object named
// regarding whose message contains text, and returns its message.
func (s *Scenario) WaitEventSaying(reason, regarding, text string) string {
	s.T.Helper()
	message := ""
	s.WaitFor(fmt.Sprintf("a %s Event about %s saying %q", reason, regarding, text), func() (bool, string) {
		var list corev1.EventList
		if err := s.Client.List(s.Ctx, &list, client.InNamespace(s.NS)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			seen = append(seen, e.Reason+"/"+e.InvolvedObject.Name)
			if e.Reason == reason && e.InvolvedObject.Name == regarding && strings.Contains(e.Message, text) {
				message = e.Message
				return true, ""
			}
		}
		return false, "events seen: " + strings.Join(seen, ", ")
	})
	return message
}

// WorkloadKind builds one kind of workload for the tests, so that each
// behaviour is checked on Deployment, StatefulSet and DaemonSet alike.
type WorkloadKind struct {
	// Name is the kind, e.g. "Deployment".
	Name  string
	build func(namespace, name string, template corev1.PodTemplateSpec) client.Object
}

// WorkloadKinds are Deployment, StatefulSet and DaemonSet.
var WorkloadKinds = []WorkloadKind{
	{"Deployment", func(ns, name string, template corev1.PodTemplateSpec) client.Object {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2), Selector: selectorOf(template), Template: template,
		}}
	}},
	{"StatefulSet", func(ns, name string, template corev1.PodTemplateSpec) client.Object {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](2), Selector: selectorOf(template), Template: template, ServiceName: name,
		}}
	}},
	{"DaemonSet", func(ns, name string, template corev1.PodTemplateSpec) client.Object {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DaemonSetSpec{
			Selector: selectorOf(template), Template: template,
		}}
	}},
}

func selectorOf(template corev1.PodTemplateSpec) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: template.Labels}
}

// Workload creates a workload of kind whose single container reads each of
// secrets through envFrom, with the given workload annotations.
func (s *Scenario) Workload(kind WorkloadKind, name string, annotations map[string]string, secrets ...string) client.Object {
	s.T.Helper()
	container := corev1.Container{Name: "app", Image: "registry.k8s.io/pause:3.10"}
	for _, secret := range secrets {
		container.EnvFrom = append(container.EnvFrom, corev1.EnvFromSource{
			SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}},
		})
	}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{container}},
	}
	obj := kind.build(s.NS, name, template)
	obj.SetAnnotations(annotations)
	if err := s.Client.Create(s.Ctx, obj); err != nil {
		s.T.Fatalf("creating %s %s: %v", kind.Name, name, err)
	}
	if err := controlplane.WaitForRollout(s.Ctx, s.Client, obj); err != nil {
		s.T.Fatal(err)
	}
	return obj
}

// LocalAWSOptions are the AWS provider's options pointed at the control
// plane's Secrets Manager endpoint, polling every interval. Stores are
// reached as ESO reaches them; the static keys of the test stores are read
// (--aws-read-store-keys).
func (s *Scenario) LocalAWSOptions(interval time.Duration) awsprovider.Options {
	ids, err := s.CP.AWSIdentities(true)
	if err != nil {
		s.T.Fatal(err)
	}
	return awsprovider.Options{PollInterval: interval, Identities: ids, Log: ctrl.Log.WithName("aws")}
}

// LocalAWS is the AWS provider of LocalAWSOptions, built as the composition
// root builds it.
func (s *Scenario) LocalAWS(interval time.Duration) providers.Vault {
	return awsprovider.New(s.LocalAWSOptions(interval))
}

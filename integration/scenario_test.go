package integration_test

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
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// scenario is one test's namespace on the local control plane, with a
// SecretStore for the local AWS endpoint.
type scenario struct {
	t   *testing.T
	ctx context.Context
	cp  *controlplane.ControlPlane
	c   client.Client
	ns  string
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	s := &scenario{t: t, ctx: harness.Context(t), cp: harness.ControlPlane(t), ns: harness.Namespace(t)}
	s.c = s.cp.Client
	harness.SecretStore(t, s.ns)
	return s
}

// externalSecret puts value in AWS under a key unique to the test, creates an
// ExternalSecret for it (refreshInterval 1h, so only a trigger refreshes it)
// and waits until ESO has synced it.
func (s *scenario) externalSecret(name, value string, annotations map[string]string) *esv1.ExternalSecret {
	s.t.Helper()
	if _, err := s.cp.SecretsManager.CreateSecret(s.ctx, s.remoteKey(name), value); err != nil {
		s.t.Fatal(err)
	}
	es := controlplane.ExternalSecret(s.ns, name, s.remoteKey(name), "value", time.Hour)
	es.Annotations = annotations
	if err := s.c.Create(s.ctx, es); err != nil {
		s.t.Fatalf("creating ExternalSecret %s: %v", name, err)
	}
	synced, err := controlplane.WaitForSync(s.ctx, s.c, client.ObjectKeyFromObject(es))
	if err != nil {
		s.t.Fatal(err)
	}
	return synced
}

func (s *scenario) remoteKey(name string) string { return s.ns + "/" + name }

// rotate puts a new value in AWS and makes ESO refresh the ExternalSecret at
// once — what the AWS provider will do — then waits for ESO to confirm.
func (s *scenario) rotate(names ...string) {
	s.t.Helper()
	for _, name := range names {
		if _, err := s.cp.SecretsManager.PutValue(s.ctx, s.remoteKey(name), "rotated-"+time.Now().Format(time.RFC3339Nano)); err != nil {
			s.t.Fatal(err)
		}
	}
	s.refresh(names...)
}

// refresh makes ESO fetch the ExternalSecrets again and waits for the sync.
func (s *scenario) refresh(names ...string) {
	s.t.Helper()
	for _, name := range names {
		es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.eso-bridge.io/refresh":%q}}}`, time.Now().Format(time.RFC3339Nano))
		if err := s.c.Patch(s.ctx, es, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
			s.t.Fatalf("annotating ExternalSecret %s: %v", name, err)
		}
	}
	for _, name := range names {
		if _, err := controlplane.WaitForSync(s.ctx, s.c, client.ObjectKey{Namespace: s.ns, Name: name}); err != nil {
			s.t.Fatal(err)
		}
	}
}

var setLoggerOnce sync.Once

// startBridge runs eso-bridge in-process, scoped to the scenario's namespace
// unless opts says otherwise, until the test ends or stop is called.
func (s *scenario) startBridge(opts bridge.Options) (stop func()) {
	s.t.Helper()
	return s.startBridgeWith(opts, bridge.ManagerOptions{MetricsAddr: "0", HealthAddr: "0"})
}

// startBridgeWith is startBridge with process-level options (leader election).
func (s *scenario) startBridgeWith(opts bridge.Options, mo bridge.ManagerOptions) (stop func()) {
	s.t.Helper()
	setLoggerOnce.Do(func() {
		logFile, err := os.Create(filepath.Join(s.cp.LogDir, "eso-bridge.log"))
		if err != nil {
			s.t.Fatal(err)
		}
		ctrl.SetLogger(crzap.New(crzap.WriteTo(logFile), crzap.UseDevMode(true)))
	})
	if opts.Namespaces == nil && opts.NamespaceSelector == "" {
		opts.Namespaces = []string{s.ns}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(ctx, s.cp.Config, opts, mo)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				s.t.Errorf("eso-bridge exited with: %v", err)
			}
		})
	}
	s.t.Cleanup(stop)
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("eso-bridge log lines about %s:\n%s", s.ns, bridgeLogAbout(filepath.Join(s.cp.LogDir, "eso-bridge.log"), s.ns, 80))
		}
	})
	return stop
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

// testOptions are the defaults with a short settle window, as tests rotate
// sources within milliseconds of each other.
func testOptions() bridge.Options {
	opts := bridge.DefaultOptions()
	opts.Settle = time.Second
	return opts
}

// waitFor polls condition until it holds, failing with what it last said.
func (s *scenario) waitFor(what string, condition func() (bool, string)) {
	s.t.Helper()
	last := ""
	err := wait.PollUntilContextCancel(s.ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		var ok bool
		ok, last = condition()
		return ok, nil
	})
	if err != nil {
		s.t.Fatalf("%s: %v (last: %s)", what, err, last)
	}
}

// waitAdopted waits until eso-bridge has recorded a source hash on the workload.
func (s *scenario) waitAdopted(w client.Object) {
	s.t.Helper()
	s.waitFor("adoption of "+w.GetName(), func() (bool, string) {
		obj := s.get(w)
		return obj.GetAnnotations()[bridge.AnnotationSourceHash] != "", fmt.Sprintf("annotations %v", obj.GetAnnotations())
	})
}

// get reads the current state of w into a new object of its type.
func (s *scenario) get(w client.Object) client.Object {
	s.t.Helper()
	obj := w.DeepCopyObject().(client.Object)
	if err := s.c.Get(s.ctx, client.ObjectKeyFromObject(w), obj); err != nil {
		s.t.Fatalf("reading %s: %v", w.GetName(), err)
	}
	return obj
}

// restarts counts the workload's rollouts, as `kubectl rollout history` does:
// each pod-template change makes a new ReplicaSet (Deployment) or
// ControllerRevision (StatefulSet, DaemonSet) owned by the workload, and
// eso-bridge's restarts are the only template changes these tests make.
func (s *scenario) restarts(w client.Object) int64 {
	s.t.Helper()
	uid := s.get(w).GetUID()
	var revisions []metav1.Object
	if _, ok := w.(*appsv1.Deployment); ok {
		var list appsv1.ReplicaSetList
		if err := s.c.List(s.ctx, &list, client.InNamespace(w.GetNamespace())); err != nil {
			s.t.Fatal(err)
		}
		for i := range list.Items {
			revisions = append(revisions, &list.Items[i])
		}
	} else {
		var list appsv1.ControllerRevisionList
		if err := s.c.List(s.ctx, &list, client.InNamespace(w.GetNamespace())); err != nil {
			s.t.Fatal(err)
		}
		for i := range list.Items {
			revisions = append(revisions, &list.Items[i])
		}
	}
	var owned int64
	for _, r := range revisions {
		if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == uid {
			owned++
		}
	}
	return max(owned-1, 0)
}

// settleMargin is how long a test watches for a second, unwanted restart: the
// settle window plus ESO's and the controller's reaction time, with room.
const settleMargin = 4 * time.Second

// expectRestarts waits until w has been restarted want times and the rollout
// has completed, then checks that no further restart follows.
func (s *scenario) expectRestarts(w client.Object, want int64) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("%s restarted %d time(s)", w.GetName(), want), func() (bool, string) {
		got := s.restarts(w)
		return got >= want, fmt.Sprintf("%d restart(s)", got)
	})
	if err := controlplane.WaitForRollout(s.ctx, s.c, w); err != nil {
		s.t.Fatal(err)
	}
	s.expectNoMoreRestartsThan(w, want)
}

// expectNoMoreRestartsThan watches w for settleMargin and fails if it is
// restarted more than want times.
func (s *scenario) expectNoMoreRestartsThan(w client.Object, want int64) {
	s.t.Helper()
	deadline := time.Now().Add(settleMargin)
	for time.Now().Before(deadline) {
		if got := s.restarts(w); got > want {
			s.t.Fatalf("%s was restarted %d times, want %d", w.GetName(), got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitEvent waits for an Event with reason about the object named regarding,
// and returns its message.
func (s *scenario) waitEvent(reason, regarding string) string {
	s.t.Helper()
	message := ""
	s.waitFor(fmt.Sprintf("a %s Event about %s", reason, regarding), func() (bool, string) {
		var list corev1.EventList
		if err := s.c.List(s.ctx, &list, client.InNamespace(s.ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			seen = append(seen, e.Reason+"/"+e.InvolvedObject.Name)
			if e.Reason == reason && e.InvolvedObject.Name == regarding {
				message = e.Message
				return true, ""
			}
		}
		return false, "events seen: " + strings.Join(seen, ", ")
	})
	return message
}

// workloadKind builds one kind of workload for the tests, so that each
// behaviour is checked on Deployment, StatefulSet and DaemonSet alike.
type workloadKind struct {
	name  string
	build func(namespace, name string, template corev1.PodTemplateSpec) client.Object
}

var workloadKinds = []workloadKind{
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

// workload creates a workload of kind whose single container reads each of
// secrets through envFrom, with the given workload annotations.
func (s *scenario) workload(kind workloadKind, name string, annotations map[string]string, secrets ...string) client.Object {
	s.t.Helper()
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
	obj := kind.build(s.ns, name, template)
	obj.SetAnnotations(annotations)
	if err := s.c.Create(s.ctx, obj); err != nil {
		s.t.Fatalf("creating %s %s: %v", kind.name, name, err)
	}
	if err := controlplane.WaitForRollout(s.ctx, s.c, obj); err != nil {
		s.t.Fatal(err)
	}
	return obj
}

package policy_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/restart"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// inProgress follows the Deployments of a namespace, as a user's watch
// sees them, and keeps the most rollouts eso-bridge started that were in
// progress at once: by their replicas (rollingOut), and by what eso-bridge
// counts (no result recorded yet), which ends later.
type inProgress struct {
	mu                        sync.Mutex
	rolling, unreported       map[string]bool
	maxRolling, maxUnreported int
	// timeline is what was seen, in order: told when the cap was exceeded.
	timeline []string
}

func watchInProgress(t *testing.T, namespace string) *inProgress {
	t.Helper()
	p := &inProgress{rolling: map[string]bool{}, unreported: map[string]bool{}}
	factory := informers.NewSharedInformerFactoryWithOptions(kubernetes.NewForConfigOrDie(harness.ControlPlane(t).Config), 0, informers.WithNamespace(namespace))
	informer := factory.Apps().V1().Deployments().Informer()
	seen := func(obj any) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			return
		}
		unreported := annotations.RolloutUnreported(d.Annotations, d.Spec.Template.Annotations)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.rolling[d.Name] = rollingOut(d, unreported)
		p.unreported[d.Name] = unreported
		p.maxRolling = max(p.maxRolling, count(p.rolling))
		p.maxUnreported = max(p.maxUnreported, count(p.unreported))
		p.timeline = append(p.timeline, fmt.Sprintf("%s rv=%s %s gen=%d/%d restartedAt=%s unreported=%v (%d unreported)",
			time.Now().Format("15:04:05.000"), d.ResourceVersion, d.Name, d.Generation, d.Status.ObservedGeneration,
			d.Spec.Template.Annotations[annotations.AnnotationRestartedAt], unreported, count(p.unreported)))
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: seen, UpdateFunc: func(_, obj any) { seen(obj) }}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	return p
}

// rollingOut is whether d is rolling out a restart, by its replicas as
// `kubectl rollout status` reads them, or by the restart not yet seen by
// the deployment controller. Not by its generation alone: recording the
// rollout's result is an annotation change, which bumps a Deployment's
// generation too (annotations are copied to its ReplicaSets).
func rollingOut(d *appsv1.Deployment, unreported bool) bool {
	if d.Spec.Template.Annotations[annotations.AnnotationRestartedAt] == "" {
		return false
	}
	s := d.Status
	return (unreported && d.Generation > s.ObservedGeneration) || s.UpdatedReplicas < *d.Spec.Replicas || s.Replicas > s.UpdatedReplicas || s.AvailableReplicas < s.UpdatedReplicas
}

func count(set map[string]bool) int {
	n := 0
	for _, in := range set {
		if in {
			n++
		}
	}
	return n
}

// Twenty workloads on one Secret, with a cap of 2 rollouts in progress —
// in the namespace, or across the cluster: never more than 2 are rolling
// out at once, and all 20 are restarted, each once.
func TestACapKeepsAtMostTwoRolloutsInProgress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                  string
		namespaceMax, overall int
	}{
		{"in the namespace", 2, 5},
		{"across the cluster", 0, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := harness.TestOptions()
			opts.NamespaceMaxRolloutsInProgress, opts.MaxRolloutsInProgress = c.namespaceMax, c.overall
			expectAtMostTwoInProgress(t, opts)
		})
	}
}

func expectAtMostTwoInProgress(t *testing.T, opts bridge.Options) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", map[string]string{annotations.AnnotationRollout: "auto"})
	var all []client.Object
	for i := range 20 {
		all = append(all, s.Workload(harness.WorkloadKinds[0], fmt.Sprintf("app-%02d", i), nil, "db"))
	}
	s.StartBridge(opts)
	for _, w := range all {
		s.WaitAdopted(w)
	}
	held := harness.Counter(t, "eso_bridge_holds_total", map[string]string{"reason": restart.ReasonRolloutCap})
	watched := watchInProgress(t, s.NS)

	started := time.Now()
	s.Rotate("db")
	s.WaitFor("all 20 restarted", func() (bool, string) {
		done := 0
		for _, w := range all {
			if s.Restarts(w) >= 1 {
				done++
			}
		}
		return done == len(all), fmt.Sprintf("%d restarted", done)
	})
	t.Logf("20 restarts under a cap of 2 took %s", time.Since(started).Round(time.Millisecond))
	time.Sleep(harness.SettleMargin)
	for _, w := range all {
		if n := s.Restarts(w); n != 1 {
			t.Errorf("%s was restarted %d times, want once", w.GetName(), n)
		}
	}
	watched.mu.Lock()
	defer watched.mu.Unlock()
	if watched.maxRolling > 2 || watched.maxUnreported > 2 {
		t.Errorf("at most %d rollouts were in progress at once (%d not yet reported), want at most 2; the Deployments seen:\n%s",
			watched.maxRolling, watched.maxUnreported, strings.Join(watched.timeline, "\n"))
	}
	if watched.maxUnreported < 2 {
		t.Errorf("at most %d rollout(s) were in progress at once: the cap of 2 was never reached, so the test shows nothing", watched.maxUnreported)
	}
	if got := harness.Counter(t, "eso_bridge_holds_total", map[string]string{"reason": restart.ReasonRolloutCap}); got < held+1 {
		t.Errorf("eso_bridge_holds_total{reason=%q} = %v, want at least one hold more than %v", restart.ReasonRolloutCap, got, held)
	}
}

package bench_test

import (
	"sync"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// changes tells when a watched value of the objects of one namespace
// changes, as a user's own watch would see it: the benchmarks time what
// happens in the cluster, not what the controller says about itself.
type changes struct {
	mu      sync.Mutex
	last    map[string]string
	waiters map[string]chan time.Time
}

// next returns a channel that receives the time of the next change of the
// object name. Call it before causing the change.
func (c *changes) next(name string) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters[name] = ch
	return ch
}

// seen records the value of name, and wakes its waiter when it changed.
func (c *changes) seen(name, value string) {
	at := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, known := c.last[name]
	c.last[name] = value
	if !known || prev == value {
		return
	}
	if ch, ok := c.waiters[name]; ok {
		ch <- at
		delete(c.waiters, name)
	}
}

func newChanges() *changes {
	return &changes{last: map[string]string{}, waiters: map[string]chan time.Time{}}
}

// watchRestarts follows eso-bridge's restart annotation on the pod templates
// of the namespace's Deployments.
func watchRestarts(b *testing.B, namespace string) *changes {
	b.Helper()
	return watchDeployments(b, namespace, func(d *appsv1.Deployment) string {
		return d.Spec.Template.Annotations[annotations.AnnotationRestartedAt]
	})
}

// watchRolloutResults follows the rollout results eso-bridge records on the
// namespace's Deployments: a new one is a rollout that ended.
func watchRolloutResults(b *testing.B, namespace string) *changes {
	b.Helper()
	return watchDeployments(b, namespace, func(d *appsv1.Deployment) string {
		return d.Annotations[annotations.AnnotationRolloutResult]
	})
}

// watchDeployments follows value of the namespace's Deployments.
func watchDeployments(b *testing.B, namespace string, value func(*appsv1.Deployment) string) *changes {
	b.Helper()
	c := newChanges()
	clientset := kubernetes.NewForConfigOrDie(harness.ControlPlane(b).Config)
	factory := informers.NewSharedInformerFactoryWithOptions(clientset, 0, informers.WithNamespace(namespace))
	informer := factory.Apps().V1().Deployments().Informer()
	c.follow(b, factory.Start, informer, func(obj any) (string, string, bool) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			return "", "", false
		}
		return d.Name, value(d), true
	})
	return c
}

// watchWrites follows ESO's data-hash on the namespace's Secrets: a new
// value means ESO wrote new data. Metadata only, like eso-bridge.
func watchWrites(b *testing.B, namespace string) *changes {
	b.Helper()
	c := newChanges()
	client := metadata.NewForConfigOrDie(harness.ControlPlane(b).Config)
	factory := metadatainformer.NewFilteredSharedInformerFactory(client, 0, namespace, nil)
	informer := factory.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Informer()
	c.follow(b, factory.Start, informer, func(obj any) (string, string, bool) {
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return "", "", false
		}
		return m.Name, m.Annotations[esv1.AnnotationDataHash], true
	})
	return c
}

// watchSyncs follows ESO's status on the namespace's ExternalSecrets: a new
// synced resource version or refresh time is a sync ESO confirmed.
func watchSyncs(b *testing.B, namespace string) *changes {
	b.Helper()
	c := newChanges()
	client := dynamic.NewForConfigOrDie(harness.ControlPlane(b).Config)
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, namespace, nil)
	informer := factory.ForResource(esv1.SchemeGroupVersion.WithResource("externalsecrets")).Informer()
	c.follow(b, factory.Start, informer, func(obj any) (string, string, bool) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return "", "", false
		}
		synced, _, _ := unstructured.NestedString(u.Object, "status", "syncedResourceVersion")
		refreshed, _, _ := unstructured.NestedString(u.Object, "status", "refreshTime")
		return u.GetName(), synced + "@" + refreshed, true
	})
	return c
}

// follow records value(obj) of each object the informer sees, runs its
// factory until the benchmark ends and waits for the informer's first list.
func (c *changes) follow(b *testing.B, run func(<-chan struct{}), informer cache.SharedIndexInformer, value func(obj any) (name, value string, ok bool)) {
	b.Helper()
	record := func(obj any) {
		if name, v, ok := value(obj); ok {
			c.seen(name, v)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, obj any) { record(obj) }}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	run(stop)
	if !cache.WaitForCacheSync(b.Context().Done(), informer.HasSynced) {
		b.Fatal("the benchmark's own watch did not sync")
	}
}

// await waits for a change with a timeout, and returns its time.
func await(b *testing.B, ch <-chan time.Time, what string, timeout time.Duration) time.Time {
	b.Helper()
	select {
	case at := <-ch:
		return at
	case <-time.After(timeout):
		b.Fatalf("%s did not happen within %s", what, timeout)
		return time.Time{}
	}
}

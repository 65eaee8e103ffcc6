package harness

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
)

var notNameChars = regexp.MustCompile(`[^a-z0-9]+`)

// Namespace creates a fresh namespace named after the test. When the test
// fails, the namespace's Events and the end of every component's log are
// printed; the namespace is deleted either way.
func Namespace(t testing.TB) string {
	t.Helper()
	cp := ControlPlane(t)
	name := strings.Trim(notNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	name += "-" + utilrand.String(5)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := cp.Client.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if t.Failed() {
			t.Logf("events in %s:\n%s", name, EventsText(ctx, cp.Client, name))
			t.Logf("control plane logs:\n%s", cp.LogTails(40))
		}
		if err := cp.Client.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// SecretStore creates the SecretStore for the local AWS endpoint (named
// controlplane.SecretStoreName) and its test keys in namespace.
func SecretStore(t testing.TB, namespace string) {
	t.Helper()
	keys, store := controlplane.SecretStoreObjects(namespace)
	for _, obj := range []client.Object{keys, store} {
		if err := ControlPlane(t).Client.Create(t.Context(), obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

// EventsText lists the Events of namespace, one per line, as tests print
// them on failure.
func EventsText(ctx context.Context, c client.Client, namespace string) string {
	var list corev1.EventList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range list.Items {
		// events.k8s.io/v1 Events carry eventTime; core/v1 ones lastTimestamp.
		at := e.LastTimestamp.Time
		if at.IsZero() {
			at = e.EventTime.Time
		}
		fmt.Fprintf(&b, "  %s %s %s/%s %s: %s\n", at.Format(time.TimeOnly), e.Type,
			e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
	return b.String()
}

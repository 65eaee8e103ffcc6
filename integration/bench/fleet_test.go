package bench_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrlutil "github.com/external-secrets/external-secrets/pkg/controllers/util"
	"github.com/external-secrets/external-secrets/pkg/esutils"
	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// A fleet is n ESO-managed Secrets in one namespace, each with its
// ExternalSecret (annotated rollout: auto) and a Deployment that reads it.
// For volume, the benchmark writes the Secrets and ExternalSecret statuses
// as ESO does, byte for byte where eso-bridge looks: the data-hash
// annotation, then the status with refreshTime, syncedResourceVersion and
// Ready. The real ESO ignores the fleet: its SecretStore names another
// controller class. The Deployments are paused with no replicas, so that
// kube-controller-manager does not compete for the two cores; eso-bridge
// patches them all the same.
type fleet struct {
	c         client.Client
	namespace string
	n         int
	dataSize  int
	// externalSecrets are the members' ExternalSecrets as last written,
	// as ESO's cache holds them: ESO writes a status onto the object it
	// reconciled, without reading it again first.
	externalSecrets []*esv1.ExternalSecret
}

// fakeStore is the fleet's SecretStore; ESO skips ExternalSecrets whose store
// belongs to another controller class.
const fakeStore = "bench-not-eso"

// remoteKey is the vault secret member i reads: one per member of every
// fleet, so that a vault provider watches each fleet's keys apart.
func (f *fleet) remoteKey(i int) string { return f.namespace + "/" + fleetName(i) }

// fleetName names the i-th Secret, ExternalSecret and Deployment alike.
func fleetName(i int) string { return fmt.Sprintf("app-%05d", i) }

// newFleet creates the fleet's objects, 16 requests at a time, with
// progress on stderr for the large sizes.
func newFleet(b *testing.B, namespace string, n, dataSize int, withWorkloads bool) *fleet {
	b.Helper()
	cp := harness.ControlPlane(b)
	f := &fleet{c: cp.Client, namespace: namespace, n: n, dataSize: dataSize, externalSecrets: make([]*esv1.ExternalSecret, n)}
	ctx := context.Background()
	store := &esv1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: fakeStore, Namespace: namespace}, Spec: esv1.SecretStoreSpec{
		Controller: "not-eso",
		Provider:   &esv1.SecretStoreProvider{AWS: &esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: "us-east-1"}},
	}}
	if err := f.c.Create(ctx, store); err != nil {
		b.Fatalf("creating the fleet's SecretStore: %v", err)
	}
	started := time.Now()
	err := f.each(func(i int) error {
		if err := f.c.Create(ctx, f.secret(i)); err != nil {
			return err
		}
		f.externalSecrets[i] = f.externalSecret(i)
		if err := f.c.Create(ctx, f.externalSecrets[i]); err != nil {
			return err
		}
		if err := f.confirm(ctx, i); err != nil {
			return err
		}
		if withWorkloads {
			return f.c.Create(ctx, f.deployment(i))
		}
		return nil
	})
	if err != nil {
		b.Fatalf("creating the fleet: %v", err)
	}
	if err := f.readAsESOHolds(ctx); err != nil {
		b.Fatalf("reading the fleet's ExternalSecrets: %v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: %d Secrets of %d bytes in %s in %s\n", n, dataSize, namespace, time.Since(started).Round(time.Second))
	return f
}

// esoFinalizer is the finalizer ESO puts on every ExternalSecret it sees,
// its own store's or not.
const esoFinalizer = "externalsecrets.external-secrets.io/externalsecret-cleanup"

// readAsESOHolds reads the fleet's ExternalSecrets again once ESO has put
// its finalizer on each (a minute at most): ESO's cache sees that write,
// and a status written onto the object as created would be refused.
func (f *fleet) readAsESOHolds(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var list esv1.ExternalSecretList
		finalized := 0
		for cont := ""; ; {
			page := esv1.ExternalSecretList{}
			if err := f.c.List(ctx, &page, client.InNamespace(f.namespace), client.Limit(500), client.Continue(cont)); err != nil {
				return err
			}
			list.Items = append(list.Items, page.Items...)
			if cont = page.Continue; cont == "" {
				break
			}
		}
		for _, es := range list.Items {
			if slices.Contains(es.Finalizers, esoFinalizer) {
				finalized++
			}
		}
		if finalized == len(list.Items) || time.Now().After(deadline) {
			byName := make(map[string]*esv1.ExternalSecret, len(list.Items))
			for i := range list.Items {
				byName[list.Items[i].Name] = &list.Items[i]
			}
			for i := range f.externalSecrets {
				f.externalSecrets[i] = byName[fleetName(i)]
			}
			return nil
		}
		time.Sleep(time.Second)
	}
}

// each runs fn for every member of the fleet, 16 at a time.
func (f *fleet) each(fn func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(16)
	for i := range f.n {
		g.Go(func() error { return fn(i) })
	}
	return g.Wait()
}

func (f *fleet) secret(i int) *corev1.Secret {
	data := map[string][]byte{"value": randomBytes(f.dataSize)}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: fleetName(i), Namespace: f.namespace,
			Labels:      map[string]string{esv1.LabelManaged: esv1.LabelManagedValue},
			Annotations: map[string]string{esv1.AnnotationDataHash: esutils.ObjectHash(data)}},
		Data: data,
	}
}

func (f *fleet) externalSecret(i int) *esv1.ExternalSecret {
	return &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: fleetName(i), Namespace: f.namespace,
			Annotations: map[string]string{annotations.AnnotationRollout: "auto"}},
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Kind: esv1.SecretStoreKind, Name: fakeStore},
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			Target:          esv1.ExternalSecretTarget{Name: fleetName(i)},
			Data:            []esv1.ExternalSecretData{{SecretKey: "value", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: f.remoteKey(i)}}},
		},
	}
}

func (f *fleet) deployment(i int) *appsv1.Deployment {
	labels := map[string]string{"app": fleetName(i)}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: fleetName(i), Namespace: f.namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0), Paused: true,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.k8s.io/pause:3.10",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: fleetName(i)}}}},
				}}},
			},
		},
	}
}

// rotate writes new data into Secret i and then confirms the sync in the
// ExternalSecret's status, in ESO's order.
func (f *fleet) rotate(ctx context.Context, i int) error {
	data := map[string][]byte{"value": randomBytes(f.dataSize)}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fleetName(i), Namespace: f.namespace}}
	patch := client.MergeFrom(secret.DeepCopy())
	secret.Data = data
	secret.Annotations = map[string]string{esv1.AnnotationDataHash: esutils.ObjectHash(data)}
	if err := f.c.Patch(ctx, secret, patch); err != nil {
		return fmt.Errorf("writing Secret %s: %w", secret.Name, err)
	}
	return f.confirm(ctx, i)
}

// confirm writes the status ESO writes after a successful sync, as ESO
// writes it: onto the object it holds, read again only after a conflict.
func (f *fleet) confirm(ctx context.Context, i int) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		es := f.externalSecrets[i]
		if es == nil {
			es = &esv1.ExternalSecret{}
			if err := f.c.Get(ctx, client.ObjectKey{Namespace: f.namespace, Name: fleetName(i)}, es); err != nil {
				return err
			}
			f.externalSecrets[i] = es
		}
		now := metav1.Now()
		es.Status.RefreshTime = now
		es.Status.SyncedResourceVersion = ctrlutil.GetResourceVersion(es.ObjectMeta)
		es.Status.Binding = corev1.LocalObjectReference{Name: fleetName(i)}
		es.Status.Conditions = []esv1.ExternalSecretStatusCondition{{
			Type: esv1.ExternalSecretReady, Status: corev1.ConditionTrue, Reason: esv1.ConditionReasonSecretSynced,
			Message: "secret synced", LastTransitionTime: now,
		}}
		err := f.c.Status().Update(ctx, es)
		if err != nil {
			f.externalSecrets[i] = nil // read again, as ESO's next reconcile would from its cache
		}
		return err
	})
}

func randomBytes(n int) []byte {
	data := make([]byte, n)
	_, _ = rand.Read(data)
	return data
}

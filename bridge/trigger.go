package bridge

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	ctrlutil "github.com/external-secrets/external-secrets/pkg/controllers/util"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	crsource "sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// Annotations the trigger writes on an ExternalSecret. Any annotation change
// makes ESO refresh at once (when refreshInterval > 0), and without a target
// template ESO copies them onto the Secret.
const (
	// AnnotationVaultVersions lists the current vault version of each remote
	// secret the ExternalSecret reads: "key=versionID,..." sorted by key.
	AnnotationVaultVersions = "eso-bridge.io/vault-versions"
	// AnnotationVaultChangedAt is the vault's own time of the newest change (RFC 3339).
	AnnotationVaultChangedAt = "eso-bridge.io/vault-changed-at"
	// AnnotationTriggeredAt is when eso-bridge triggered the refresh (RFC 3339).
	AnnotationTriggeredAt = "eso-bridge.io/triggered-at"
	// AnnotationVaultARNs lists the ARNs of the remote secrets, where the
	// vault reports them: "key=arn,..." sorted by key.
	AnnotationVaultARNs = "eso-bridge.io/vault-arns"
)

// ReasonRefreshDisabled warns that eso-bridge cannot speed up an ExternalSecret.
const ReasonRefreshDisabled = "RefreshDisabled"

// VaultTrigger makes ESO fetch a rotated secret at once: when the current
// version of a remote secret that an ExternalSecret reads moves, it writes the
// new version into the ExternalSecret's annotations. It also tells the gate
// which ExternalSecrets still wait for such a trigger (VaultVersions).
type VaultTrigger struct {
	Client   client.Client
	Source   providers.Source
	Scope    *Scope
	Recorder Recorder
	// Detected is told the vault's change time of each move seen; may be nil.
	Detected func(changedAt time.Time)
	// Confirmed is told of each triggered ExternalSecret whose sync ESO's
	// status confirmed, and how long that took; may be nil.
	Confirmed func(es *esv1.ExternalSecret, d time.Duration)

	mu      sync.Mutex
	refsOf  map[types.NamespacedName][]providers.Ref
	readers map[providers.Ref]map[types.NamespacedName]bool
	moved   map[providers.Ref]bool
	wake    chan event.GenericEvent
	// triggered holds when each ExternalSecret was last triggered, until
	// ESO's status confirms the sync.
	triggered map[types.NamespacedName]time.Time
}

var (
	_ reconcile.Reconciler = &VaultTrigger{}
	_ VaultVersions        = &VaultTrigger{}
)

// SetupWithManager runs the trigger on ExternalSecret changes and on vault
// moves, and runs the vault source itself.
func (t *VaultTrigger) SetupWithManager(mgr ctrl.Manager) error {
	t.refsOf = map[types.NamespacedName][]providers.Ref{}
	t.readers = map[providers.Ref]map[types.NamespacedName]bool{}
	t.moved = map[providers.Ref]bool{}
	t.triggered = map[types.NamespacedName]time.Time{}
	t.wake = make(chan event.GenericEvent, 1024)
	if err := mgr.Add(manager.RunnableFunc(t.follow)); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("externalsecret-trigger").
		For(&esv1.ExternalSecret{}).
		WatchesRawSource(crsource.Channel(t.wake, &handler.EnqueueRequestForObject{})).
		Complete(t)
}

func objectMeta(key types.NamespacedName) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}
}

// follow runs the vault source and wakes the readers of each secret it
// reports: a move triggers them; a first sighting lets them catch up with a
// move that happened while eso-bridge was not running.
// It runs only on the leader, like the controllers.
func (t *VaultTrigger) follow(ctx context.Context) error {
	changes := make(chan providers.Change)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case change := <-changes:
				t.mu.Lock()
				if !change.First {
					log.FromContext(ctx).Info("vault version moved", "store", change.Ref.Store, "key", change.Ref.Key, "version", change.Version.ID)
					t.moved[change.Ref] = true
					if t.Detected != nil {
						t.Detected(change.Version.ChangedAt)
					}
				}
				var readers []types.NamespacedName
				for ref, esReaders := range t.readers {
					if ref == change.Ref || (ref.IsPattern() && slices.Contains(t.Source.Matching(ref), change.Ref)) {
						for es := range esReaders {
							readers = append(readers, es)
						}
					}
				}
				t.mu.Unlock()
				for _, es := range readers {
					t.wake <- event.GenericEvent{Object: &esv1.ExternalSecret{ObjectMeta: objectMeta(es)}}
				}
			}
		}
	}()
	return t.Source.Run(ctx, changes)
}

// Reconcile records what an ExternalSecret reads and triggers it if a version
// it reads has moved since it was last triggered.
func (t *VaultTrigger) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	es := &esv1.ExternalSecret{}
	if err := t.Client.Get(ctx, req.NamespacedName, es); err != nil {
		if client.IgnoreNotFound(err) == nil {
			t.record(req.NamespacedName, nil)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	// Out-of-scope ExternalSecrets are neither followed nor touched.
	if allowed, err := t.Scope.Allows(ctx, t.Client, req.Namespace); err != nil || !allowed {
		t.record(req.NamespacedName, nil)
		return reconcile.Result{}, err
	}
	refs, err := t.refsFor(ctx, es)
	if err != nil {
		return reconcile.Result{}, err
	}
	t.record(req.NamespacedName, refs)
	t.observeConfirmation(req.NamespacedName, es)
	target, trigger := t.desired(es, refs)
	if !trigger {
		return reconcile.Result{}, nil
	}
	if es.Spec.RefreshInterval != nil && es.Spec.RefreshInterval.Duration == 0 {
		t.Recorder.Warning(es, nil, ReasonRefreshDisabled, actionGate,
			"refreshInterval is 0: ESO does not refresh this ExternalSecret on an annotation change, so eso-bridge cannot make it fetch the new vault version; set a refreshInterval")
	}
	// The trigger starts the rotation's trace; ESO carries it to the Secret
	// and the restart to the pods.
	rotation := newRotationTrace()
	now := time.Now()
	patch := client.MergeFrom(es.DeepCopy())
	setAnnotation(es, AnnotationVaultVersions, target.versions)
	setAnnotation(es, AnnotationVaultChangedAt, target.changedAt.UTC().Format(time.RFC3339Nano))
	setAnnotation(es, AnnotationTriggeredAt, now.UTC().Format(time.RFC3339Nano))
	setAnnotation(es, AnnotationTraceparent, formatTraceparent(rotation))
	if target.arns != "" {
		setAnnotation(es, AnnotationVaultARNs, target.arns)
	}
	if err := t.Client.Patch(ctx, es, patch); err != nil {
		return reconcile.Result{}, fmt.Errorf("triggering ExternalSecret %s: %w", req.NamespacedName, err)
	}
	t.mu.Lock()
	t.triggered[req.NamespacedName] = now
	t.mu.Unlock()
	log.FromContext(ctx).Info("triggered ESO refresh", "versions", target.versions, "traceID", rotation.TraceID().String())
	return reconcile.Result{}, nil
}

// observeConfirmation reports the trigger-to-sync latency once ESO's status
// confirms a sync of the triggered ExternalSecret.
func (t *VaultTrigger) observeConfirmation(key types.NamespacedName, es *esv1.ExternalSecret) {
	t.mu.Lock()
	at, ok := t.triggered[key]
	t.mu.Unlock()
	if !ok || es.Status.SyncedResourceVersion != ctrlutil.GetResourceVersion(es.ObjectMeta) {
		return
	}
	t.mu.Lock()
	delete(t.triggered, key)
	t.mu.Unlock()
	if t.Confirmed != nil {
		t.Confirmed(es, time.Since(at))
	}
}

// Pending returns the newest vault version of es that has not been written
// into its annotations yet, or "".
func (t *VaultTrigger) Pending(es *esv1.ExternalSecret) string {
	t.mu.Lock()
	refs := t.refsOf[types.NamespacedName{Namespace: es.Namespace, Name: es.Name}]
	t.mu.Unlock()
	target, trigger := t.desired(es, refs)
	if !trigger {
		return ""
	}
	return target.versions
}

// triggerTarget is what a trigger writes on an ExternalSecret.
type triggerTarget struct {
	// versions and arns are "key=value" pairs sorted by key.
	versions, arns string
	// changedAt is the vault's time of the newest change.
	changedAt time.Time
}

// desired returns the annotation es should carry, the vault's newest change
// time, and whether es must be triggered: its annotation differs, and either
// it was triggered before, or a version it reads moved while eso-bridge
// watched, or changed after ESO's last fetch (while eso-bridge was down). An
// ExternalSecret never triggered whose data is newer than every version is
// adopted as it is.
func (t *VaultTrigger) desired(es *esv1.ExternalSecret, refs []providers.Ref) (triggerTarget, bool) {
	var pairs, arns []string
	var newest time.Time
	anyMoved := false
	var concrete []providers.Ref
	for _, ref := range refs {
		if ref.IsPattern() {
			concrete = append(concrete, t.Source.Matching(ref)...)
		} else {
			concrete = append(concrete, ref)
		}
	}
	for _, ref := range concrete {
		version, ok := t.Source.Current(ref)
		if !ok {
			continue
		}
		pairs = append(pairs, ref.Key+"="+version.ID)
		if version.ARN != "" {
			arns = append(arns, ref.Key+"="+version.ARN)
		}
		if version.ChangedAt.After(newest) {
			newest = version.ChangedAt
		}
		t.mu.Lock()
		anyMoved = anyMoved || t.moved[ref]
		t.mu.Unlock()
		// A version that changed after ESO last fetched is one ESO does not
		// hold, even if eso-bridge first saw it at start (it was down, or a
		// new leader took over): ESO discards version IDs, so the vault's
		// change time is what tells. ESO's refreshTime is to the second, so
		// only a change past that second counts; a clock skew costs at most
		// one refresh that writes nothing.
		if version.ChangedAt.After(es.Status.RefreshTime.Add(time.Second)) {
			anyMoved = true
		}
	}
	if len(pairs) == 0 {
		return triggerTarget{}, false
	}
	sort.Strings(pairs)
	sort.Strings(arns)
	target := triggerTarget{versions: strings.Join(pairs, ","), arns: strings.Join(arns, ","), changedAt: newest}
	current := es.Annotations[AnnotationVaultVersions]
	return target, target.versions != current && (current != "" || anyMoved)
}

// refsFor returns the AWS Secrets Manager secrets es reads at their current
// version. A remoteRef pinned to a version ID or another label never rotates
// and is left out; a dataFrom.find becomes a pattern the source expands.
func (t *VaultTrigger) refsFor(ctx context.Context, es *esv1.ExternalSecret) ([]providers.Ref, error) {
	var spec *esv1.SecretStoreSpec
	ref := es.Spec.SecretStoreRef
	switch ref.Kind {
	case esv1.ClusterSecretStoreKind:
		store := &esv1.ClusterSecretStore{}
		if err := t.Client.Get(ctx, types.NamespacedName{Name: ref.Name}, store); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		spec = &store.Spec
	default:
		store := &esv1.SecretStore{}
		if err := t.Client.Get(ctx, types.NamespacedName{Namespace: es.Namespace, Name: ref.Name}, store); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		spec = &store.Spec
	}
	if spec.Provider == nil || spec.Provider.AWS == nil || spec.Provider.AWS.Service != esv1.AWSServiceSecretsManager {
		return nil, nil
	}
	storeID := awsprovider.Store{Region: spec.Provider.AWS.Region, Role: spec.Provider.AWS.Role}.ID()
	var refs []providers.Ref
	add := func(remote esv1.ExternalSecretDataRemoteRef) {
		if remote.Key == "" || !followsCurrent(remote.Version) {
			return
		}
		r := providers.Ref{Store: storeID, Key: spec.Provider.AWS.Prefix + remote.Key}
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	for _, data := range es.Spec.Data {
		add(data.RemoteRef)
	}
	for _, from := range es.Spec.DataFrom {
		if from.Extract != nil {
			add(*from.Extract)
		}
		if find := from.Find; find != nil {
			pattern := providers.Ref{Store: storeID, Path: spec.Provider.AWS.Prefix + ptrValue(find.Path), Tags: canonicalTags(find.Tags)}
			if find.Name != nil {
				pattern.NameRegexp = find.Name.RegExp
			}
			if !slices.Contains(refs, pattern) {
				refs = append(refs, pattern)
			}
		}
	}
	return refs, nil
}

// canonicalTags writes tags as "k=v,..." sorted by key.
func canonicalTags(tags map[string]string) string {
	pairs := make([]string, 0, len(tags))
	for k, v := range tags {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func ptrValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// followsCurrent reports whether a remoteRef.version reads AWSCURRENT: empty,
// or that label itself. "uuid/..." pins a version; any other label pins it.
func followsCurrent(version string) bool {
	return version == "" || version == awsprovider.LabelCurrent
}

// record replaces what es reads, and the set the source follows.
func (t *VaultTrigger) record(es types.NamespacedName, refs []providers.Ref) {
	t.mu.Lock()
	for _, old := range t.refsOf[es] {
		delete(t.readers[old], es)
		if len(t.readers[old]) == 0 {
			delete(t.readers, old)
		}
	}
	if len(refs) == 0 {
		delete(t.refsOf, es)
	} else {
		t.refsOf[es] = refs
		for _, r := range refs {
			if t.readers[r] == nil {
				t.readers[r] = map[types.NamespacedName]bool{}
			}
			t.readers[r][es] = true
		}
	}
	all := make([]providers.Ref, 0, len(t.readers))
	for r := range t.readers {
		all = append(all, r)
	}
	t.mu.Unlock()
	t.Source.Watch(all)
}

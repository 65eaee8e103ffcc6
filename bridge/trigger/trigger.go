// Package trigger is the vault trigger: when the current version of a remote
// secret that an ExternalSecret reads moves, it writes the new version into
// the ExternalSecret's annotations, which makes ESO refresh at once. It also
// tells the gate which ExternalSecrets still wait for such a trigger.
package trigger

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/events"
	"github.com/eso-bridge/eso-bridge/bridge/fanout"
	"github.com/eso-bridge/eso-bridge/bridge/scope"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/providers"
)

// VaultTrigger makes ESO fetch a rotated secret at once: when the current
// version of a remote secret that an ExternalSecret reads moves, it writes the
// new version into the ExternalSecret's annotations. It also tells the gate
// which ExternalSecrets still wait for such a trigger (restart.PendingVersions).
type VaultTrigger struct {
	Client client.Client
	// Vault is the vault followed; the composition root builds it.
	Vault    providers.Vault
	Scope    *scope.Scope
	Recorder events.Recorder
	// Detected is told the vault's change time of each move seen; may be nil.
	Detected func(changedAt time.Time)
	// Confirmed is told of each triggered ExternalSecret whose sync ESO's
	// status confirmed, and how long that took; may be nil.
	Confirmed func(es *esv1.ExternalSecret, d time.Duration)
	// DryRun logs the triggers it would write and writes none (dryrun.go).
	DryRun bool
	// ExternalSecrets are the cache's changes of ExternalSecrets, which the
	// controllers share (package fanout).
	ExternalSecrets *fanout.Changes

	mu sync.Mutex
	// refsOf are the refs each ExternalSecret reads, as handles: the
	// trigger holds one entry per ExternalSecret and one per ref, and a
	// handle is an eighth of a ref's size.
	refsOf map[types.NamespacedName][]providers.Handle
	// readers are the ExternalSecrets that read each ref. A slice, not a
	// set: most refs have one reader, and a one-entry map costs ten times
	// the 32 bytes of its entry (about 600 bytes per ExternalSecret, seen in
	// a heap profile at 5,000). Adding and removing one is linear in the
	// ref's readers, which stay few but for a key shared by many tenants.
	readers map[providers.Handle][]types.NamespacedName
	// patterns are the refs of readers that are patterns (dataFrom.find):
	// a change is matched against them, and looked up among the rest.
	patterns map[providers.Handle]bool
	moved    map[providers.Handle]bool
	wake     chan event.GenericEvent
	// triggered holds when each ExternalSecret was last triggered, until
	// ESO's status confirms the sync.
	triggered map[types.NamespacedName]time.Time
	// reconciled holds the ExternalSecrets reconciled since the start, until
	// caughtUp: then the trigger has seen what it had to catch up with.
	reconciled map[types.NamespacedName]bool
	// wouldHaveWritten holds, in a dry run, the versions each ExternalSecret
	// would carry had its triggers been written.
	wouldHaveWritten map[types.NamespacedName]string
	caughtUp         bool
}

var _ reconcile.Reconciler = &VaultTrigger{}

// Reconcile records what an ExternalSecret reads and triggers it if a version
// it reads has moved since it was last triggered.
func (t *VaultTrigger) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	// Counted once done: the vault must then be asked for what it reads.
	defer t.markReconciled(req.NamespacedName)
	es := &esv1.ExternalSecret{}
	if err := t.Client.Get(ctx, req.NamespacedName, es); err != nil {
		if client.IgnoreNotFound(err) == nil {
			t.forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	// Out-of-scope ExternalSecrets are neither followed nor touched.
	allowed, err := t.Scope.Allows(ctx, t.Client, req.Namespace)
	if err != nil {
		t.record(req.NamespacedName, nil)
		return reconcile.Result{}, err
	}
	if !allowed {
		t.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	refs, err := t.refsFor(ctx, es)
	if err != nil {
		return reconcile.Result{}, err
	}
	t.record(req.NamespacedName, refs)
	t.observeConfirmation(req.NamespacedName, es)
	t.warnProblems(es, refs)
	// ESO will not refresh it, or eso-bridge cannot ask it to: say so when
	// first seen, not once a rotation is lost, and write no trigger that can
	// never be answered.
	if why := untriggerable(es); why != "" && len(refs) > 0 {
		t.Recorder.Warning(es, nil, events.ReasonRefreshDisabled, events.ActionGate, why)
		return reconcile.Result{}, nil
	}
	target, trigger := t.desired(es, refs)
	if !trigger {
		return reconcile.Result{}, nil
	}
	target.rotation = traceparent.NewRotation()
	// A dry run writes nothing ESO would act on: ESO refreshes on its own.
	if t.DryRun {
		t.wouldTrigger(ctx, req.NamespacedName, es, target)
		return reconcile.Result{}, nil
	}
	now := time.Now()
	if ces := eso.GeneratedBy(es); ces != "" {
		written, err := t.triggerTemplate(ctx, ces, target, now)
		if err != nil || !written {
			return reconcile.Result{}, err
		}
	} else {
		patch := client.MergeFrom(es.DeepCopy())
		own := es.GetAnnotations()
		if own == nil {
			own = map[string]string{}
		}
		target.write(own, now)
		es.SetAnnotations(own)
		if err := t.Client.Patch(ctx, es, patch); err != nil {
			return reconcile.Result{}, fmt.Errorf("triggering ExternalSecret %s: %w", req.NamespacedName, err)
		}
		log.FromContext(ctx).Info("triggered ESO refresh", "versions", target.versions, "traceID", target.rotation.TraceID().String())
	}
	t.mu.Lock()
	t.triggered[req.NamespacedName] = now
	t.mu.Unlock()
	return reconcile.Result{}, nil
}

// warnProblems tells es's owner which remote secrets it reads the vault
// cannot look at: their rotations are not sped up.
func (t *VaultTrigger) warnProblems(es *esv1.ExternalSecret, refs []providers.Ref) {
	var problems []string
	for _, ref := range refs {
		if err := t.Vault.Problem(ref); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", ref.Describe(), err))
		}
	}
	if len(problems) > 0 {
		t.Recorder.Warning(es, nil, events.ReasonVaultUnreadable, events.ActionGate,
			"eso-bridge cannot look at "+strings.Join(problems, "; ")+"; a rotation of it is not sped up (ESO's refreshInterval still fetches it)")
	}
}

// untriggerable says why eso-bridge cannot make ESO fetch a rotation of es,
// or "".
func untriggerable(es *esv1.ExternalSecret) string {
	if why := eso.NoRefresh(es); why != "" {
		return why + ": ESO does not refresh this ExternalSecret when its annotations change, so eso-bridge cannot make it fetch a rotated vault version; its Secret changes only if it is recreated"
	}
	if ces := eso.GeneratedBy(es); ces != "" && es.Spec.SecretStoreRef.Kind != esv1.ClusterSecretStoreKind {
		return "generated by ClusterExternalSecret " + ces + " through a namespaced SecretStore: the ClusterExternalSecret gives every namespace the same annotations, while each namespace's store may reach a different vault, so eso-bridge does not trigger it; its Secret changes at ESO's refreshInterval (use a ClusterSecretStore to have it triggered)"
	}
	return ""
}

// observeConfirmation reports the trigger-to-sync latency once ESO's status
// confirms a sync of the triggered ExternalSecret.
func (t *VaultTrigger) observeConfirmation(key types.NamespacedName, es *esv1.ExternalSecret) {
	t.mu.Lock()
	at, ok := t.triggered[key]
	t.mu.Unlock()
	if !ok || !eso.StatusReflectsSpec(es) {
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
	// A version ESO will never fetch is not waited for.
	if untriggerable(es) != "" {
		return ""
	}
	t.mu.Lock()
	refs := refsOf(t.refsOf[types.NamespacedName{Namespace: es.Namespace, Name: es.Name}])
	t.mu.Unlock()
	target, trigger := t.desired(es, refs)
	if !trigger {
		return ""
	}
	return target.versions
}

// markReconciled records that es has been reconciled since the start.
func (t *VaultTrigger) markReconciled(es types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.caughtUp {
		t.reconciled[es] = true
	}
}

// CaughtUp reports whether the trigger can decide: every ExternalSecret in
// the cache has been reconciled once since the start, and the vault has
// looked at every remote secret they read. Once true, it stays true.
func (t *VaultTrigger) CaughtUp(ctx context.Context) (bool, error) {
	t.mu.Lock()
	done := t.caughtUp
	t.mu.Unlock()
	if done {
		return true, nil
	}
	var list esv1.ExternalSecretList
	if err := t.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range list.Items {
		if !t.reconciled[client.ObjectKeyFromObject(&list.Items[i])] {
			return false, nil
		}
	}
	if !t.Vault.Synced() {
		return false, nil
	}
	t.caughtUp, t.reconciled = true, nil
	return true, nil
}

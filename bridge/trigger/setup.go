package trigger

import (
	"context"
	"errors"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crsource "sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/eso-bridge/eso-bridge/providers"
)

// SetupWithManager runs the trigger on ExternalSecret changes and on vault
// moves, and runs the vault source itself.
func (t *VaultTrigger) SetupWithManager(mgr ctrl.Manager) error {
	if t.ExternalSecrets == nil {
		return errors.New("the vault trigger needs the shared changes of ExternalSecrets")
	}
	t.refsOf = map[types.NamespacedName][]providers.Handle{}
	t.readers = map[providers.Handle][]types.NamespacedName{}
	t.patterns = map[providers.Handle]bool{}
	t.moved = map[providers.Handle]bool{}
	t.triggered = map[types.NamespacedName]time.Time{}
	t.reconciled = map[types.NamespacedName]bool{}
	t.wake = make(chan event.GenericEvent, 1024)
	if err := mgr.Add(manager.RunnableFunc(t.follow)); err != nil {
		return err
	}
	if err := mgr.Add(manager.RunnableFunc(t.catchUp)); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("externalsecret-trigger").
		WatchesRawSource(t.ExternalSecrets.For(&handler.EnqueueRequestForObject{})).
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
	defer t.followNothing()
	changes := make(chan providers.Change)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case change := <-changes:
				t.mu.Lock()
				// A failed look is not a move: its readers are only woken, to
				// be told why it is not followed.
				if change.Failed == nil && !change.First {
					log.FromContext(ctx).Info("vault version moved", "store", change.Ref.Store, "key", change.Ref.Key, "version", change.Version.ID)
					t.moved[change.Ref.Handle()] = true
					if t.Detected != nil {
						t.Detected(change.Version.ChangedAt)
					}
				}
				readers := t.readersOf(change.Ref)
				t.mu.Unlock()
				for _, es := range readers {
					t.wake <- event.GenericEvent{Object: &esv1.ExternalSecret{ObjectMeta: objectMeta(es)}}
				}
			}
		}
	}()
	return t.Vault.Run(ctx, changes)
}

// followNothing drops every ref the trigger followed from the vault: a
// trigger that stopped (the manager stopped, or rebuilt its caches for
// other namespaces) must not leave the vault polling for it.
func (t *VaultTrigger) followNothing() {
	t.mu.Lock()
	all := make([]providers.Ref, 0, len(t.readers))
	for h := range t.readers {
		all = append(all, h.Value())
	}
	t.mu.Unlock()
	t.Vault.Follow(nil, all)
}

// catchUpEvery is how often catchUp asks whether the trigger has caught up.
const catchUpEvery = 2 * time.Second

// catchUp asks CaughtUp until it holds, then logs it once. The readiness
// probe asks too, but a process nobody probes (a local run, a pod without
// a readinessProbe) would otherwise keep the set of ExternalSecrets
// reconciled since the start — one entry each — for its whole life.
// It runs only on the leader, like the controllers.
func (t *VaultTrigger) catchUp(ctx context.Context) error {
	tick := time.NewTicker(catchUpEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if done, err := t.CaughtUp(ctx); err == nil && done {
			log.FromContext(ctx).Info("caught up: every ExternalSecret reconciled once and the vault swept for what they read")
			return nil
		}
	}
}

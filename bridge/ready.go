package bridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/eso-bridge/eso-bridge/bridge/trigger"
)

// readiness is /readyz: ready means able to decide. Every replica's caches
// (workloads, ExternalSecrets, Secret metadata) must have synced, so that a
// standby elected in a rolling update acts at once; the elected replica,
// with a vault, must also have reconciled every ExternalSecret once and
// swept the vault for what they read, so that no rotation made while no
// replica watched is taken for the starting point.
type readiness struct {
	cache cache.Cache
	// leaderElection is true when this replica may be a standby; elected is
	// closed once it leads. Without leader election it leads from the start,
	// though the manager closes elected only once its caches have synced.
	leaderElection bool
	elected        <-chan struct{}
	// trigger is nil without a vault.
	trigger *trigger.VaultTrigger
}

// readyWait bounds how long one probe waits for the caches.
const readyWait = time.Second

// check implements healthz.Checker.
func (r *readiness) check(req *http.Request) error {
	ctx, cancel := context.WithTimeout(req.Context(), readyWait)
	defer cancel()
	if !r.cache.WaitForCacheSync(ctx) {
		return errors.New("the caches have not synced yet")
	}
	if r.leaderElection {
		select {
		case <-r.elected:
		default:
			return nil // a standby with warm caches; it decides once elected
		}
	}
	if r.trigger == nil {
		return nil
	}
	caughtUp, err := r.trigger.CaughtUp(ctx)
	switch {
	case err != nil:
		return err
	case !caughtUp:
		return errors.New("the vault has not been swept for every ExternalSecret yet")
	}
	return nil
}

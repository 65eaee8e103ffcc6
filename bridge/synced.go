package bridge

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// onSynced calls do once the cache has synced, on every replica: a standby
// holds the same caches as the leader.
type onSynced struct {
	cache cache.Cache
	do    func()
}

// Start implements manager.Runnable.
func (s onSynced) Start(ctx context.Context) error {
	if s.cache.WaitForCacheSync(ctx) {
		s.do()
	}
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: it runs
// on standbys too.
func (onSynced) NeedLeaderElection() bool { return false }

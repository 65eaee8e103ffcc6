package aws

import (
	"maps"

	"github.com/eso-bridge/eso-bridge/providers"
)

// forgetUnfollowed drops what the poller keeps of secrets and stores that
// nothing follows any more: their last known versions, problems and
// backoffs, a dropped pattern's matches, and a store's client, backoff and
// listing counts. ExternalSecrets come and go — a preview namespace's, a
// team's that moved — and what they read must not stay for the life of the
// process. A secret followed again is new to the poller: its first sighting
// triggers nothing, as for any ExternalSecret created (ESO fetches it then),
// where a version remembered from before would have been taken for a move.
//
// Cycle calls it once a sweep is done, and only when something was dropped
// since the last time: its walk over what is known costs about what the
// sweep's own walk over the followed set does, and nothing in a cycle that
// drops nothing.
func (p *Poller) forgetUnfollowed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dropped {
		return
	}
	p.dropped = false
	// The patterns still followed, and what they matched: those secrets
	// are followed through them.
	live := map[providers.Ref]bool{}
	for _, patterns := range p.patterns {
		for _, pattern := range patterns {
			live[pattern] = true
		}
	}
	matched := map[providers.Ref]bool{}
	for pattern, refs := range p.matched {
		if !live[pattern] {
			delete(p.matched, pattern)
			continue
		}
		for _, ref := range refs {
			matched[ref] = true
		}
	}
	followed := func(ref providers.Ref, h providers.Handle) bool {
		return p.watched[ref.Store][h] || matched[ref]
	}
	for h := range p.current {
		if ref := h.Value(); !followed(ref, h) {
			delete(p.current, h)
		}
	}
	// Problems and backoffs are a secret's, whatever label is read of it.
	if len(p.problems) > 0 || len(p.keyBackoff) > 0 {
		secrets := map[providers.Ref]bool{}
		for _, refs := range p.watched {
			for h := range refs {
				secrets[keyOf(h.Value())] = true
			}
		}
		for ref := range matched {
			secrets[keyOf(ref)] = true
		}
		maps.DeleteFunc(p.problems, func(ref providers.Ref, _ error) bool { return !secrets[keyOf(ref)] })
		maps.DeleteFunc(p.keyBackoff, func(ref providers.Ref, _ *storeBackoff) bool { return !secrets[keyOf(ref)] })
	}
	unused := func(storeID string) bool {
		_, watched := p.watched[storeID]
		_, patterns := p.patterns[storeID]
		return !watched && !patterns
	}
	forgetStores(p.clients, unused)
	forgetStores(p.parameterClients, unused)
	forgetStores(p.backoff, unused)
	forgetStores(p.storeProblems, unused)
	forgetStores(p.listedCount, unused)
	forgetStores(p.listedUnder, unused)
}

// forgetStores drops the entries of byStore whose store is unused.
func forgetStores[V any](byStore map[string]V, unused func(storeID string) bool) {
	maps.DeleteFunc(byStore, func(storeID string, _ V) bool { return unused(storeID) })
}

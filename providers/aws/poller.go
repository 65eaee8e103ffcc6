// Package aws follows AWS Secrets Manager and SSM Parameter Store versions
// for eso-bridge: it learns when AWSCURRENT (or a label read) moves, or a
// parameter gets a new version, with a few batched calls per poll cycle, and
// without ever calling GetSecretValue or GetParameter*.
package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eso-bridge/eso-bridge/providers"
)

// Staging labels Secrets Manager moves itself: LabelCurrent is the current
// version, whose move is a rotation; LabelPrevious follows it, to the
// version it leaves.
const (
	LabelCurrent  = "AWSCURRENT"
	LabelPrevious = "AWSPREVIOUS"
)

// API is the part of the Secrets Manager client the poller calls. It has no
// GetSecretValue: the poller never sees a secret value.
type API interface {
	ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// ClientFactory returns the client for a store.
type ClientFactory func(ctx context.Context, store Store) (API, error)

// Poller is a providers.Source for AWS Secrets Manager and Parameter Store.
// Each cycle lists the secrets of every Secrets Manager store (ListSecrets
// returns each secret's version labels; see list for which listing),
// confirms a moved label with DescribeSecret (the listing may lag), and
// describes watched secrets the listing does not show; a Parameter Store
// store's parameters are described by name (see pollParameters).
type Poller struct {
	// Interval between cycles.
	Interval time.Duration
	// Clients builds a client per store; Identities{}.Client when nil.
	Clients ClientFactory
	// ParameterClients builds a Parameter Store client per store;
	// Identities{}.ParameterClient when nil.
	ParameterClients ParameterClientFactory
	// Calls counts AWS calls by operation and result; may be nil.
	Calls *prometheus.CounterVec
	// Unfollowed counts, by reason, the stores whose identity eso-bridge
	// cannot reproduce; may be nil.
	Unfollowed *prometheus.GaugeVec
	// LastSweep is set to the time each cycle finishes; may be nil.
	LastSweep prometheus.Gauge
	// Log receives errors and backoffs.
	Log logr.Logger
	// CallTimeout bounds each AWS call, so that an endpoint that accepts a
	// request and never answers fails the cycle instead of stalling it:
	// DefaultCallTimeout when zero.
	CallTimeout time.Duration

	mu sync.Mutex
	// watched are the refs followed, by store ID, as handles: one entry
	// per followed secret, an eighth of a ref's size (as in current).
	watched  map[string]map[providers.Handle]bool
	patterns map[string][]providers.Ref // store ID → patterns
	matched  map[providers.Ref][]providers.Ref
	// listedCount is the number of secrets in each store's last full
	// listing: it prices a full listing against filtered ones.
	listedCount map[string]int
	// listedUnder is the number of secrets under each name prefix (the
	// name up to its first '/') of each store, by the last listing that
	// saw them all.
	listedUnder map[string]map[string]int
	current     map[providers.Handle]providers.Version
	clients     map[string]API
	// parameterClients are the clients of Parameter Store stores.
	parameterClients map[string]ParameterAPI
	backoff          map[string]*storeBackoff
	// keyBackoff spaces out the DescribeSecret calls of a key that failed
	// or was not found, apart from its store's other keys.
	keyBackoff map[providers.Ref]*storeBackoff
	// problems are the keys that fail to be looked at, and why;
	// storeProblems the stores that cannot be looked at at all.
	problems      map[providers.Ref]error
	storeProblems map[string]error
	// wake asks Run for a cycle before the next tick: a secret newly
	// watched is looked at once, not an interval later (which is long when
	// events do the work).
	wake chan struct{}
	// watchGeneration counts the Watch calls that added refs; swept is the
	// generation the last finished cycle began with, once sweptAny.
	watchGeneration, swept int
	sweptAny               bool
	// dropped is set when a secret or pattern stops being followed, or a
	// pattern stops matching a secret: the next cycle forgets what it kept
	// of them (forgetUnfollowed).
	dropped bool
}

// minWakeGap spaces the cycles that newly watched secrets cause: when many
// ExternalSecrets appear together (at start), they share a cycle.
const minWakeGap = time.Second

var _ providers.Source = &Poller{}

// storeBackoff spaces out the cycles of a failing store.
type storeBackoff struct {
	policy backoff.BackOff
	until  time.Time
}

// Watch replaces the set of refs to follow.
func (p *Poller) Watch(refs []providers.Ref) {
	p.mu.Lock()
	want := map[providers.Ref]bool{}
	for _, ref := range refs {
		want[ref] = true
	}
	var dropped []providers.Ref
	for _, refs := range p.watched {
		for h := range refs {
			if ref := h.Value(); !want[ref] {
				dropped = append(dropped, ref)
			}
		}
	}
	for _, patterns := range p.patterns {
		for _, ref := range patterns {
			if !want[ref] {
				dropped = append(dropped, ref)
			}
		}
	}
	p.mu.Unlock()
	p.Follow(refs, dropped)
}

// Follow adds refs to the set followed and drops others from it, at a cost
// proportional to the change, not to the set: the trigger calls it for each
// ExternalSecret it reconciles. A ref added causes a cycle soon (see Run).
func (p *Poller) Follow(added, dropped []providers.Ref) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watched == nil {
		p.watched = map[string]map[providers.Handle]bool{}
		p.patterns = map[string][]providers.Ref{}
	}
	p.dropped = p.dropped || len(dropped) > 0
	for _, ref := range dropped {
		if ref.IsPattern() {
			p.patterns[ref.Store] = slices.DeleteFunc(p.patterns[ref.Store], func(r providers.Ref) bool { return r == ref })
			if len(p.patterns[ref.Store]) == 0 {
				delete(p.patterns, ref.Store)
			}
			continue
		}
		delete(p.watched[ref.Store], ref.Handle())
		if len(p.watched[ref.Store]) == 0 {
			delete(p.watched, ref.Store)
		}
	}
	grew := false
	for _, ref := range added {
		if ref.IsPattern() {
			if !slices.Contains(p.patterns[ref.Store], ref) {
				p.patterns[ref.Store] = append(p.patterns[ref.Store], ref)
				grew = true
			}
			continue
		}
		if p.watched[ref.Store] == nil {
			p.watched[ref.Store] = map[providers.Handle]bool{}
		}
		if h := ref.Handle(); !p.watched[ref.Store][h] {
			p.watched[ref.Store][h] = true
			grew = true
		}
	}
	if grew {
		p.watchGeneration++
		select {
		case p.wakeChannel() <- struct{}{}:
		default: // a cycle is already due
		}
	}
}

// wakeChannel returns the wake channel; p.mu must be held.
func (p *Poller) wakeChannel() chan struct{} {
	if p.wake == nil {
		p.wake = make(chan struct{}, 1)
	}
	return p.wake
}

// Current returns the last known current version of ref.
func (p *Poller) Current(ref providers.Ref) (providers.Version, bool) {
	h := ref.Handle() // a lookup of its own: outside the poller's lock
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.current[h]
	return v, ok
}

// Matching returns the secrets pattern matched in the last cycle.
func (p *Poller) Matching(pattern providers.Ref) []providers.Ref {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.matched[pattern])
}

// Run polls every Interval until ctx ends. A secret newly watched causes a
// cycle at once (at most one a second).
func (p *Poller) Run(ctx context.Context, changes chan<- providers.Change) error {
	ticker := time.NewTicker(p.Interval)
	defer ticker.Stop()
	p.mu.Lock()
	wake := p.wakeChannel()
	p.mu.Unlock()
	for {
		started := time.Now()
		p.Cycle(ctx, changes)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-wake:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(minWakeGap - time.Since(started)):
			}
		}
	}
}

// Synced implements providers.Source: a cycle that began after the last
// Watch that added refs has finished.
func (p *Poller) Synced() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sweptAny && p.swept == p.watchGeneration
}

// Cycle polls every store once; a failing store backs off (exponential, with
// jitter, capped) while the others go on.
func (p *Poller) Cycle(ctx context.Context, changes chan<- providers.Change) {
	p.mu.Lock()
	generation := p.watchGeneration
	stores := make(map[string][]providers.Ref, len(p.watched))
	for store, refs := range p.watched {
		for h := range refs {
			stores[store] = append(stores[store], h.Value())
		}
	}
	for store := range p.patterns {
		if _, ok := stores[store]; !ok {
			stores[store] = nil
		}
	}
	p.mu.Unlock()
	for storeID, refs := range stores {
		if b := p.backoffFor(storeID); time.Now().Before(b.until) {
			continue
		}
		err := p.pollStore(ctx, storeID, refs, changes)
		if ctx.Err() != nil {
			return
		}
		p.storeLooked(ctx, storeID, refs, err, changes)
		b := p.backoffFor(storeID)
		if err == nil {
			b.policy.Reset()
			b.until = time.Time{}
			continue
		}
		wait := b.policy.NextBackOff()
		b.until = time.Now().Add(wait)
		p.Log.Error(err, "polling an AWS store; backing off", "store", storeID, "retryIn", wait)
	}
	p.forgetUnfollowed()
	p.countUnfollowed()
	if ctx.Err() == nil {
		p.mu.Lock()
		p.swept, p.sweptAny = generation, true
		p.mu.Unlock()
		if p.LastSweep != nil {
			p.LastSweep.SetToCurrentTime()
		}
	}
}

func (p *Poller) backoffFor(storeID string) *storeBackoff {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.backoff == nil {
		p.backoff = map[string]*storeBackoff{}
	}
	b, ok := p.backoff[storeID]
	if !ok {
		b = newBackoff(5 * time.Minute)
		p.backoff[storeID] = b
	}
	return b
}

// newBackoff is exponential from a second, with jitter, up to max, and never
// gives up.
func newBackoff(max time.Duration) *storeBackoff {
	policy := backoff.NewExponentialBackOff()
	policy.InitialInterval = time.Second
	policy.MaxInterval = max
	policy.MaxElapsedTime = 0
	return &storeBackoff{policy: policy}
}

// Backoff caps of one key's DescribeSecret: a key not found is looked for in
// every listing anyway (its creation is seen there at once), so describing
// it can wait long; a key that fails may recover sooner.
const (
	maxKeyNotFoundBackoff = 30 * time.Minute
	maxKeyErrorBackoff    = 5 * time.Minute
)

// keyBackingOff reports whether ref's DescribeSecret is to be skipped now.
func (p *Poller) keyBackingOff(ref providers.Ref) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.keyBackoff[ref]
	return ok && time.Now().Before(b.until)
}

// Problem implements providers.Source.
func (p *Poller) Problem(ref providers.Ref) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.storeProblems[ref.Store]; err != nil {
		return err
	}
	return p.problems[keyOf(ref)]
}

// storeLooked records how a sweep of storeID went. A store eso-bridge cannot
// reach as ESO does, or that refuses it, is a problem of every secret read
// through it, and their readers are told once; a passing fault (throttling,
// an outage) is not.
func (p *Poller) storeLooked(ctx context.Context, storeID string, watched []providers.Ref, err error, changes chan<- providers.Change) {
	p.mu.Lock()
	_, known := p.storeProblems[storeID]
	if err == nil || !refusal(err) {
		delete(p.storeProblems, storeID)
		p.mu.Unlock()
		return
	}
	if p.storeProblems == nil {
		p.storeProblems = map[string]error{}
	}
	p.storeProblems[storeID] = err
	refs := append(slices.Clone(p.patterns[storeID]), watched...)
	p.mu.Unlock()
	if !known {
		_ = tellFailed(ctx, changes, refs, err) // only ctx's end stops it
	}
}

// tellFailed reports that refs cannot be looked at, and why: their readers
// are told. It returns ctx's error if ctx ends first.
func tellFailed(ctx context.Context, changes chan<- providers.Change, refs []providers.Ref, err error) error {
	for _, ref := range refs {
		select {
		case changes <- providers.Change{Ref: ref, Failed: err}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// setMatched records what each of patterns matched in the last look
// (nothing, for a pattern absent from matched).
func (p *Poller) setMatched(patterns []providers.Ref, matched map[providers.Ref][]providers.Ref) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.matched == nil {
		p.matched = map[providers.Ref][]providers.Ref{}
	}
	for _, pattern := range patterns {
		if !p.dropped && stoppedMatching(p.matched[pattern], matched[pattern]) {
			p.dropped = true // forgotten in forgetUnfollowed
		}
		p.matched[pattern] = matched[pattern]
	}
}

// stoppedMatching reports whether a secret of before is not in after.
func stoppedMatching(before, after []providers.Ref) bool {
	// The listing's order is the same from one sweep to the next: an
	// unchanged match costs no map.
	if len(before) == 0 || slices.Equal(before, after) {
		return false
	}
	now := make(map[providers.Ref]bool, len(after))
	for _, ref := range after {
		now[ref] = true
	}
	for _, ref := range before {
		if !now[ref] {
			return true
		}
	}
	return false
}

// refusal reports whether err says the store cannot be reached as ESO
// does, or refuses eso-bridge (not a fault that passes by itself).
func refusal(err error) bool {
	if _, ok := asIdentityError(err); ok {
		return true
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch code := api.ErrorCode(); {
	case strings.Contains(code, "AccessDenied"), code == "UnrecognizedClientException", code == "InvalidClientTokenId",
		code == "ExpiredToken", code == "ExpiredTokenException", code == "InvalidSignatureException":
		return true
	}
	return false
}

// countUnfollowed sets the Unfollowed gauge from the stores' problems.
func (p *Poller) countUnfollowed() {
	if p.Unfollowed == nil {
		return
	}
	p.mu.Lock()
	counts := map[string]float64{ReasonStaticKeysNotRead: 0, ReasonIdentityUnavailable: 0}
	for _, err := range p.storeProblems {
		if identity, ok := asIdentityError(err); ok {
			counts[identity.Reason]++
		}
	}
	p.mu.Unlock()
	for reason, n := range counts {
		p.Unfollowed.WithLabelValues(reason).Set(n)
	}
}

// keyLooked records how ref's DescribeSecret went: a success forgets its
// backoff and problem; a failure or a key not found backs it off, alone. It
// reports whether ref has just started failing (not merely missing).
func (p *Poller) keyLooked(ref providers.Ref, err error) (newProblem bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		delete(p.problems, ref)
		delete(p.keyBackoff, ref)
		return false
	}
	var notFound *types.ResourceNotFoundException
	missing := errors.As(err, &notFound) || errors.Is(err, errScheduledForDeletion)
	if missing {
		delete(p.problems, ref)
	} else {
		if p.problems == nil {
			p.problems = map[providers.Ref]error{}
		}
		_, known := p.problems[ref]
		p.problems[ref] = err
		newProblem = !known
	}
	if p.keyBackoff == nil {
		p.keyBackoff = map[providers.Ref]*storeBackoff{}
	}
	b, ok := p.keyBackoff[ref]
	if !ok {
		limit := maxKeyErrorBackoff
		if missing {
			limit = maxKeyNotFoundBackoff
		}
		b = newBackoff(limit)
		p.keyBackoff[ref] = b
	}
	wait := b.policy.NextBackOff()
	b.until = time.Now().Add(wait)
	if !missing {
		p.Log.Error(err, "looking at one secret; backing it off, the store's other secrets go on", "store", ref.Store, "key", ref.Key, "retryIn", wait)
	}
	return newProblem
}

// client returns the cached Secrets Manager client of storeID.
func (p *Poller) client(ctx context.Context, storeID string) (API, error) {
	return cachedClient(p, &p.clients, storeID, func(store Store) (API, error) {
		factory := p.Clients
		if factory == nil {
			factory = Identities{}.Client
		}
		c, err := factory(ctx, store)
		if err != nil {
			return nil, err
		}
		return boundedAPI{api: c, timeout: p.callTimeout()}, nil
	})
}

// cachedClient returns the client of storeID in cache, built by build the
// first time; a client that fails to build is built again next time.
func cachedClient[C any](p *Poller, cache *map[string]C, storeID string, build func(Store) (C, error)) (C, error) {
	p.mu.Lock()
	c, ok := (*cache)[storeID]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	store, valid := ParseStoreID(storeID)
	if !valid {
		return c, fmt.Errorf("%q is not an AWS store", storeID)
	}
	c, err := build(store)
	if err != nil {
		return c, err
	}
	p.mu.Lock()
	if *cache == nil {
		*cache = map[string]C{}
	}
	(*cache)[storeID] = c
	p.mu.Unlock()
	return c, nil
}

// keyOf is the secret of ref, whatever label it reads: backoffs and
// problems are the secret's.
func keyOf(ref providers.Ref) providers.Ref {
	return providers.Ref{Store: ref.Store, Key: ref.Key}
}

// callTimeout is CallTimeout, or DefaultCallTimeout when zero.
func (p *Poller) callTimeout() time.Duration {
	if p.CallTimeout <= 0 {
		return DefaultCallTimeout
	}
	return p.CallTimeout
}

// pollStore lists one store's secrets and reports moves of the watched refs.
func (p *Poller) pollStore(ctx context.Context, storeID string, refs []providers.Ref, changes chan<- providers.Change) error {
	if store, _ := ParseStoreID(storeID); store.Service == ServiceParameterStore {
		return p.pollParameters(ctx, storeID, refs, changes)
	}
	api, err := p.client(ctx, storeID)
	if err != nil {
		return err
	}
	listed := map[string]types.SecretListEntry{} // by watched key
	p.mu.Lock()
	patterns := slices.Clone(p.patterns[storeID])
	p.mu.Unlock()
	matched := map[providers.Ref][]providers.Ref{}
	matchers := make([]matcher, 0, len(patterns))
	for _, pattern := range patterns {
		matchers = append(matchers, newMatcher(pattern))
	}
	// The refs of each key. A map, as every listed entry is looked up in
	// it: with thousands of watched keys a slice scan per entry would cost
	// millions of compares.
	byKey := make(map[string][]providers.Ref, len(refs))
	for _, ref := range refs {
		byKey[ref.Key] = append(byKey[ref.Key], ref)
	}
	visit := func(entry types.SecretListEntry) {
		name := aws.ToString(entry.Name)
		for _, m := range matchers {
			if m.matches(entry) {
				ref := providers.Ref{Store: storeID, Key: name}
				matched[m.pattern] = append(matched[m.pattern], ref)
				if !slices.Contains(byKey[name], ref) {
					byKey[name] = append(byKey[name], ref)
				}
			}
		}
		for _, key := range []string{name, aws.ToString(entry.ARN), partialARN(aws.ToString(entry.ARN))} {
			if _, ok := byKey[key]; ok {
				listed[key] = entry
			}
		}
	}
	if err := p.list(ctx, api, storeID, byKey, len(patterns) > 0, visit); err != nil {
		return err
	}
	p.setMatched(patterns, matched)
	keys := make([]string, 0, len(byKey))
	for key := range byKey {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		entry, inList := listed[key]
		var unsure []providers.Ref
		for _, ref := range byKey[key] {
			known, seen := p.Current(ref)
			holder := holderOf(entry.SecretVersionsToStages, ref.Label)
			switch {
			case inList && seen && holder == known.ID:
				continue // unchanged, as far as the listing knows
			case inList && !seen && holder == "":
				continue // no version holds the label yet: nothing to report
			case inList && !seen:
				// A first sighting triggers nothing, so the listing is good
				// enough: no DescribeSecret per secret when eso-bridge starts.
				version := providers.Version{ID: holder, Labels: entry.SecretVersionsToStages[holder], ChangedAt: aws.ToTime(entry.LastChangedDate), ARN: aws.ToString(entry.ARN)}
				if err := p.report(ctx, ref, version, true, changes); err != nil {
					return err
				}
				continue
			}
			unsure = append(unsure, ref)
		}
		if len(unsure) == 0 {
			continue
		}
		// Moved, or not listed (yet): DescribeSecret has the truth, as the
		// listing may lag behind. A key that fails, or is not there, backs
		// off alone: one bad key (a cross-account ARN without a resource
		// policy, an IAM narrowing, a typo) must not stop its store.
		secret := providers.Ref{Store: storeID, Key: key}
		if !inList && p.keyBackingOff(secret) {
			continue
		}
		_, err := p.describe(ctx, api, unsure, changes)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p.keyLooked(secret, err) {
			if err := tellFailed(ctx, changes, unsure, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// describe calls DescribeSecret for the secret of refs (one key, one or
// more labels) and reports each label's holder when it is not the version
// known: a move, or a first sighting. It returns whether it reported a move.
func (p *Poller) describe(ctx context.Context, api API, refs []providers.Ref, changes chan<- providers.Change) (bool, error) {
	key := refs[0].Key
	out, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(key)})
	p.count("DescribeSecret", err)
	if err != nil {
		return false, fmt.Errorf("DescribeSecret %s: %w", key, err)
	}
	if out.DeletedDate != nil {
		return false, fmt.Errorf("%s: %w", key, errScheduledForDeletion)
	}
	moved := false
	for _, ref := range refs {
		id := holderOf(out.VersionIdsToStages, ref.Label)
		known, seen := p.Current(ref)
		if id == "" || (seen && id == known.ID) {
			continue
		}
		version := providers.Version{ID: id, Labels: out.VersionIdsToStages[id], ChangedAt: aws.ToTime(out.LastChangedDate), ARN: aws.ToString(out.ARN)}
		if err := p.report(ctx, ref, version, !seen, changes); err != nil {
			return false, err
		}
		moved = moved || seen
	}
	return moved, nil
}

// report records the current version of ref and sends the change, unless
// that version is already the one recorded: a sweep and an event can find
// the same move at once, and it is reported once.
func (p *Poller) report(ctx context.Context, ref providers.Ref, version providers.Version, first bool, changes chan<- providers.Change) error {
	// A lookup in the handles' own table: outside the lock, which each
	// secret of a sweep takes.
	h := ref.Handle()
	p.mu.Lock()
	if p.current == nil {
		p.current = map[providers.Handle]providers.Version{}
	}
	if known, ok := p.current[h]; ok && known.ID == version.ID {
		p.mu.Unlock()
		return nil
	}
	// The SDK cuts a response's strings out of one shared buffer: a kept
	// string would keep the whole page's.
	version.ID, version.ARN = strings.Clone(version.ID), strings.Clone(version.ARN)
	version.Labels = slices.Clone(version.Labels)
	for i, label := range version.Labels {
		version.Labels[i] = unique.Make(label).Value() // AWSCURRENT, AWSPREVIOUS...
	}
	p.current[h] = version
	p.mu.Unlock()
	select {
	case changes <- providers.Change{Ref: ref, Version: version, First: first}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Check describes one watched secret now, out of the sweep, and reports a
// move of the label ref reads: what an event about the secret asks for. It
// returns whether it reported a move.
func (p *Poller) Check(ctx context.Context, ref providers.Ref, changes chan<- providers.Change) (bool, error) {
	if store, _ := ParseStoreID(ref.Store); store.Service == ServiceParameterStore {
		return p.checkParameter(ctx, ref, changes)
	}
	api, err := p.client(ctx, ref.Store)
	if err != nil {
		return false, err
	}
	moved, err := p.describe(ctx, api, []providers.Ref{ref}, changes)
	if errors.Is(err, errScheduledForDeletion) {
		return false, nil // nothing to fetch: no move, and no retry
	}
	return moved, err
}

// errScheduledForDeletion is a secret whose deletion is scheduled: ESO
// cannot read it, the listing leaves it out, and it is looked for like a
// secret that does not exist.
var errScheduledForDeletion = errors.New("the secret is scheduled for deletion")

// partialARN is arn without the six random characters Secrets Manager
// appends to a secret's name, the form a remoteRef.key may use; "" for
// something else.
func partialARN(arn string) string {
	_, name, ok := strings.Cut(arn, ":secret:")
	if !strings.HasPrefix(arn, "arn:") || !ok {
		return ""
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 && len(name)-i == 7 {
		return arn[:len(arn)-7]
	}
	return ""
}

// refsNamed returns the followed secrets an event is about: keys in a store
// of the event's region that name its secret, watched or matched by a
// pattern in the last sweep, at a label the event may have moved.
func (p *Poller) refsNamed(e Event) []providers.Ref {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := map[providers.Ref]bool{}
	inRegion := func(storeID string) bool {
		store, ok := ParseStoreID(storeID)
		return ok && store.Region == e.Region && store.Service == e.Service
	}
	for storeID, refs := range p.watched {
		if !inRegion(storeID) {
			continue
		}
		for h := range refs {
			if ref := h.Value(); e.Names(ref.Key) && e.Concerns(ref.Label) {
				found[ref] = true
			}
		}
	}
	for _, refs := range p.matched {
		for _, ref := range refs {
			if inRegion(ref.Store) && e.Names(ref.Key) && e.Concerns(ref.Label) {
				found[ref] = true
			}
		}
	}
	refs := make([]providers.Ref, 0, len(found))
	for ref := range found {
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Store+refs[i].Name() < refs[j].Store+refs[j].Name() })
	return refs
}

func (p *Poller) count(op string, err error) {
	if p.Calls == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "error"
	}
	p.Calls.WithLabelValues(op, result).Inc()
}

// matcher applies a pattern as ESO's dataFrom.find does: a name prefix
// (path), a regular expression on the name, and tags that must all be present.
type matcher struct {
	pattern providers.Ref
	name    *regexp.Regexp
	invalid bool // the regexp does not compile: nothing matches
	tags    [][2]string
}

// newMatcher compiles a pattern once per cycle, not once per listed secret.
func newMatcher(pattern providers.Ref) matcher {
	m := matcher{pattern: pattern}
	if pattern.NameRegexp != "" {
		re, err := regexp.Compile(pattern.NameRegexp)
		m.name, m.invalid = re, err != nil
	}
	m.tags = tagPairs(pattern.Tags)
	return m
}

func (m matcher) matches(entry types.SecretListEntry) bool {
	name := aws.ToString(entry.Name)
	if m.invalid || !strings.HasPrefix(name, m.pattern.Path) {
		return false
	}
	if m.name != nil && !m.name.MatchString(name) {
		return false
	}
	for _, tag := range m.tags {
		if !slices.ContainsFunc(entry.Tags, func(t types.Tag) bool { return aws.ToString(t.Key) == tag[0] && aws.ToString(t.Value) == tag[1] }) {
			return false
		}
	}
	return true
}

// DefaultCallTimeout bounds one AWS call when Poller.CallTimeout is zero.
// The SDK's HTTP client bounds dialing and TLS, not an answer that never
// comes.
const DefaultCallTimeout = 30 * time.Second

// boundedAPI gives each call its own deadline.
type boundedAPI struct {
	api     API
	timeout time.Duration
}

func (b boundedAPI) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, opts ...func(*secretsmanager.Options)) (out *secretsmanager.ListSecretsOutput, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	defer recoverDecoding(&err)
	return b.api.ListSecrets(ctx, in, opts...)
}

func (b boundedAPI) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (out *secretsmanager.DescribeSecretOutput, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	defer recoverDecoding(&err)
	return b.api.DescribeSecret(ctx, in, opts...)
}

// recoverDecoding turns a panic inside an SDK call into the call's error:
// smithy-go's JSON decoder panics on some malformed bodies (fuzzing found
// one), and a garbled answer must fail one cycle, not kill the controller.
func recoverDecoding(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the AWS SDK failed decoding the response: %v", r)
	}
}

// stage is the staging label a Ref's Label names: AWSCURRENT when empty.
func stage(label string) string {
	if label == "" {
		return LabelCurrent
	}
	return label
}

// holderOf returns the version holding label (AWSCURRENT when empty).
// Should a response give the label to two versions (moto does for
// AWSCURRENT, AWS does not), the choice is stable, so that the same response
// never reads as a move.
func holderOf(versionsToStages map[string][]string, label string) string {
	label = stage(label)
	var holders []string
	for id, labels := range versionsToStages {
		if slices.Contains(labels, label) {
			holders = append(holders, id)
		}
	}
	if len(holders) == 0 {
		return ""
	}
	return slices.Min(holders)
}

package bridge

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RolloutLimiter spaces restarts across the cluster and per namespace. A
// restart over the limit is told how long to wait and is requeued: queued,
// never dropped.
type RolloutLimiter struct {
	global   *rate.Limiter
	perNS    rate.Limit
	nsBurst  int
	mu       sync.Mutex
	byNSName map[string]*rate.Limiter
}

// NewRolloutLimiter builds the limiter of the options.
func NewRolloutLimiter(o Options) *RolloutLimiter {
	return &RolloutLimiter{
		global:   rate.NewLimiter(rate.Limit(o.RolloutsPerSecond), o.RolloutBurst),
		perNS:    rate.Limit(o.NamespaceRolloutsPerSecond),
		nsBurst:  o.NamespaceRolloutBurst,
		byNSName: map[string]*rate.Limiter{},
	}
}

// Reserve takes one restart from both limits now, or none and returns how long
// to wait before asking again.
func (l *RolloutLimiter) Reserve(namespace string, now time.Time) time.Duration {
	l.mu.Lock()
	ns, ok := l.byNSName[namespace]
	if !ok {
		ns = rate.NewLimiter(l.perNS, l.nsBurst)
		l.byNSName[namespace] = ns
	}
	l.mu.Unlock()
	global := l.global.ReserveN(now, 1)
	local := ns.ReserveN(now, 1)
	delay := max(global.DelayFrom(now), local.DelayFrom(now))
	if delay > 0 {
		global.CancelAt(now)
		local.CancelAt(now)
	}
	return delay
}

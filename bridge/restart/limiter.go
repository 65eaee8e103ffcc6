package restart

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter spaces restarts across the cluster and per namespace. A
// restart over the limit is told how long to wait and is requeued: queued,
// never dropped.
type Limiter struct {
	global   *rate.Limiter
	perNS    rate.Limit
	nsBurst  int
	mu       sync.Mutex
	byNSName map[string]*rate.Limiter
	// sweepAt is the number of namespaces at which Reserve next forgets
	// those whose limiter has refilled (forgetRefilled).
	sweepAt int
}

// minSweep is the fewest namespaces a sweep is made for.
const minSweep = 64

// NewLimiter allows perSecond restarts a second across the cluster, burst at
// once, and namespacePerSecond and namespaceBurst in each namespace.
func NewLimiter(perSecond float64, burst int, namespacePerSecond float64, namespaceBurst int) *Limiter {
	return &Limiter{
		global:   rate.NewLimiter(rate.Limit(perSecond), burst),
		perNS:    rate.Limit(namespacePerSecond),
		nsBurst:  namespaceBurst,
		byNSName: map[string]*rate.Limiter{},
	}
}

// Reserve takes one restart from both limits now, or none and returns how long
// to wait before asking again.
func (l *Limiter) Reserve(namespace string, now time.Time) time.Duration {
	l.mu.Lock()
	if len(l.byNSName) >= max(l.sweepAt, minSweep) {
		l.forgetRefilled(now)
	}
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

// forgetRefilled drops the namespaces whose limiter is full again: a new one
// gives the same answers, so forgetting them changes no delay, and the
// namespaces of a cluster that come and go (preview environments) do not
// stay for the life of the process. A sweep comes when the namespaces
// remembered have doubled since the last one, so its cost per restart stays
// constant. l.mu must be held.
func (l *Limiter) forgetRefilled(now time.Time) {
	for name, ns := range l.byNSName {
		if ns.TokensAt(now) >= float64(l.nsBurst) {
			delete(l.byNSName, name)
		}
	}
	l.sweepAt = 2 * len(l.byNSName)
}

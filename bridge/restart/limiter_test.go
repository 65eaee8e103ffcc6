package restart

import (
	"fmt"
	"testing"
	"time"
)

func TestRolloutLimiterQueuesInsteadOfDropping(t *testing.T) {
	limiter := NewLimiter(1, 2, 10, 10)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

	for i := range 2 {
		if delay := limiter.Reserve("a", now); delay != 0 {
			t.Fatalf("restart %d within the burst was delayed %s", i+1, delay)
		}
	}
	delay := limiter.Reserve("b", now)
	if delay <= 0 || delay > time.Second {
		t.Fatalf("the restart past the global burst got delay %s, want (0, 1s]", delay)
	}
	// A delayed restart takes nothing: asking again when told succeeds.
	if again := limiter.Reserve("b", now.Add(delay)); again != 0 {
		t.Errorf("the queued restart was delayed again by %s when its turn came", again)
	}
}

func TestRolloutLimiterLimitsEachNamespaceApart(t *testing.T) {
	limiter := NewLimiter(100, 100, 1, 1)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

	if limiter.Reserve("busy", now) != 0 || limiter.Reserve("quiet", now) != 0 {
		t.Fatal("the first restart of each namespace was delayed")
	}
	if limiter.Reserve("busy", now) == 0 {
		t.Error("a second restart in the same namespace was not delayed")
	}
}

// The namespaces that come and go are not remembered for ever: once their
// limits have refilled, restarts elsewhere forget them; a namespace still
// at its limit keeps it.
func TestRolloutLimiterForgetsNamespacesWhoseLimitRefilled(t *testing.T) {
	limiter := NewLimiter(1000, 1000, 1, 1)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		if delay := limiter.Reserve(fmt.Sprintf("preview-%d", i), now); delay != 0 {
			t.Fatalf("the first restart of preview-%d was delayed %s", i, delay)
		}
	}
	later := now.Add(time.Minute)
	if limiter.Reserve("busy", later) != 0 {
		t.Fatal("the first restart of busy was delayed")
	}
	for i := range 100 {
		limiter.Reserve(fmt.Sprintf("later-%d", i), later)
	}
	if n := len(limiter.byNSName); n > 101 {
		t.Errorf("%d namespaces remembered, want at most the 101 that restarted a moment ago", n)
	}
	if limiter.Reserve("busy", later) == 0 {
		t.Error("busy's second restart within its limit was not delayed: its limiter was forgotten while not refilled")
	}
}

package restart

import (
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

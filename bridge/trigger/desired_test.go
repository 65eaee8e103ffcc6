package trigger

import (
	"testing"
	"time"
)

func TestHeldByESO(t *testing.T) {
	// ESO's refreshTime is the start of its sync, truncated to the second.
	refresh := time.Date(2026, 11, 29, 12, 0, 7, 0, time.UTC)
	tests := map[string]struct {
		changed time.Time
		refresh time.Time
		want    bool
	}{
		"a change seconds before ESO's refresh is held":                {changed: refresh.Add(-3 * time.Second), refresh: refresh, want: true},
		"a change in the second of the refresh may be after the fetch": {changed: refresh.Add(400 * time.Millisecond), refresh: refresh, want: false},
		"a change within the clock skew before the second is in doubt": {changed: refresh.Add(-50 * time.Millisecond), refresh: refresh, want: false},
		"a change after the refresh is not held":                       {changed: refresh.Add(5 * time.Second), refresh: refresh, want: false},
		"nothing is held before ESO's first refresh":                   {changed: refresh.Add(-time.Hour), refresh: time.Time{}, want: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := heldByESO(tt.changed, tt.refresh); got != tt.want {
				t.Errorf("heldByESO(%s, %s) = %v, want %v", tt.changed.Format(time.RFC3339Nano), tt.refresh.Format(time.RFC3339Nano), got, tt.want)
			}
		})
	}
}

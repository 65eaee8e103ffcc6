package app

import (
	"os"
	"runtime/debug"
	"testing"
)

// The controller collects at GOGC=50 once its caches have synced, unless
// the environment sets GOGC, as an operator tuning it would expect.
func TestGCPercentIsFiftyOnceSyncedUnlessGOGCIsSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		env     *string
		want    string
		percent int
	}{
		{env: nil, want: "100, 50 once the caches have synced", percent: 50},
		{env: ptr("80"), want: "80", percent: 100}, // the runtime read GOGC at start; it is left alone
		{env: ptr("off"), want: "off", percent: 100},
	} {
		if tc.env == nil {
			restoreEnv(t, "GOGC")
			os.Unsetenv("GOGC")
		} else {
			t.Setenv("GOGC", *tc.env)
		}
		debug.SetGCPercent(100)
		got, synced := gcPolicy()
		if got != tc.want {
			t.Errorf("GOGC %v: logged %q, want %q", tc.env, got, tc.want)
		}
		if synced != nil {
			synced()
		}
		if got := debug.SetGCPercent(100); got != tc.percent {
			t.Errorf("GOGC %v: GC percent %d once synced, want %d", tc.env, got, tc.percent)
		}
	}
}

func ptr(s string) *string { return &s }

// restoreEnv puts name back as it was when the test ends.
func restoreEnv(t *testing.T, name string) {
	if old, set := os.LookupEnv(name); set {
		t.Cleanup(func() { os.Setenv(name, old) })
	}
}

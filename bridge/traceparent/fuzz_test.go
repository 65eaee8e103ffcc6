package traceparent

import (
	"regexp"
	"testing"
)

var traceparentFormat = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

// A traceparent written by anyone — ESO copies annotations, users edit them —
// is either invalid or one eso-bridge writes back exactly as W3C defines it.
func FuzzTraceparent(f *testing.F) {
	for _, seed := range []string{"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		sc := Parse(value)
		if !sc.IsValid() {
			return
		}
		written := Format(sc)
		if !traceparentFormat.MatchString(written) {
			t.Errorf("traceparent %q is written back as %q", value, written)
		}
		if again := Parse(written); again.TraceID() != sc.TraceID() || again.SpanID() != sc.SpanID() {
			t.Errorf("traceparent %q does not read back: %v, then %v", value, sc, again)
		}
	})
}

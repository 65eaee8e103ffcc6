package annotations

import "time"

// Time parses an RFC 3339 annotation; nil when absent or garbled.
func Time(annotations map[string]string, key string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, annotations[key])
	if err != nil {
		return nil
	}
	return &t
}

// FormatTime writes t as eso-bridge's time annotations hold it: RFC 3339 in
// UTC, to the nanosecond.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

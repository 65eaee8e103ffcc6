package annotations

import (
	"sort"
	"strings"
)

// ParseSourceDigests reads AnnotationSourceDigests; nil when absent.
// Garbled entries are dropped: a source without a record is re-adopted,
// never restarted.
func ParseSourceDigests(value string) map[string]string {
	if value == "" {
		return nil
	}
	digests := map[string]string{}
	for _, entry := range strings.Split(value, ",") {
		if name, digest, ok := strings.Cut(entry, "="); ok && name != "" && digest != "" {
			digests[name] = digest
		}
	}
	return digests
}

// FormatSourceDigests writes digests as AnnotationSourceDigests holds them.
func FormatSourceDigests(digests map[string]string) string {
	entries := make([]string, 0, len(digests))
	for name, digest := range digests {
		entries = append(entries, name+"="+digest)
	}
	sort.Strings(entries)
	return strings.Join(entries, ",")
}

package app

import (
	"os"
	"runtime/debug"
	"strconv"
)

// syncedGCPercent is the controller's GOGC once its caches hold the
// cluster, when the environment sets none. Its heap is then mostly the
// cache, which lives as long as the process, and little garbage: at Go's
// default of 100 the heap grows to twice the cache before each collection,
// at 50 to one and a half times. The start, which decodes every cached
// object and makes garbage fast, runs at the default: collecting at 50
// through it made the first reaction after a start 0.4 s slower on the
// benchmark's 2,000 members.
const syncedGCPercent = 50

// gcPolicy is the GOGC in force, for the log, and what to do once the
// caches have synced: apply syncedGCPercent, or nothing when GOGC is set,
// which then decides as it does for any Go program. GOMEMLIMIT (the Helm
// chart sets it below the container's limit) bounds the heap either way.
func gcPolicy() (string, func()) {
	if gogc, set := os.LookupEnv("GOGC"); set {
		return gogc, nil
	}
	return "100, " + strconv.Itoa(syncedGCPercent) + " once the caches have synced", func() { debug.SetGCPercent(syncedGCPercent) }
}

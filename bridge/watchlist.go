package bridge

import (
	"os"
	"sync"

	clientfeatures "k8s.io/client-go/features"
)

// watchListEnv is client-go's own switch for streamed initial lists; when a
// user sets it, it decides.
const watchListEnv = "KUBE_FEATURE_" + string(clientfeatures.WatchListClient)

var streamOnce sync.Once

// StreamInitialLists makes every cache fill from a watch that streams its
// objects one by one (WatchList: on by default from kube-apiserver 1.34)
// instead of from one list response. A list holds every object of a kind
// decoded whole — managed fields, containers, another tool's annotations —
// until the last page has arrived, and only then trims them into the cache:
// at start, for a moment, the full size of every Deployment and
// ExternalSecret in the namespaces watched, which the heap keeps as its
// high-water mark for minutes after. Streamed, each object is trimmed
// (package cachetrim) as it arrives. An API server without WatchList
// answers the stream with an error, and client-go lists as before.
// Setting KUBE_FEATURE_WatchListClient in the environment overrides it.
//
// client-go reads its feature gates when the first client is built, so this
// runs before any (Run calls it first; a command that builds a client before
// Run calls it earlier): once per process.
func StreamInitialLists() {
	streamOnce.Do(func() {
		if _, set := os.LookupEnv(watchListEnv); set {
			return
		}
		clientfeatures.ReplaceFeatureGates(watchListOn{clientfeatures.FeatureGates()})
	})
}

// watchListOn answers client-go's feature gates as gates does, but with
// WatchListClient on.
type watchListOn struct {
	gates clientfeatures.Gates
}

// Enabled implements clientfeatures.Gates.
func (w watchListOn) Enabled(f clientfeatures.Feature) bool {
	return f == clientfeatures.WatchListClient || w.gates.Enabled(f)
}

package integration_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// TestCachesFillFromStreamedWatchesNotLists checks how the controller fills
// its caches at start: the Deployments, ExternalSecrets and ESO's Secrets of
// its namespaces arrive through watches that stream them one by one
// (sendInitialEvents), each trimmed as it comes, never as one list response
// that holds the whole kind untrimmed until its last page. Then a rotation
// still restarts its consumer once: the streamed caches are the ones the
// decisions read.
func TestCachesFillFromStreamedWatchesNotLists(t *testing.T) {
	s := harness.NewScenario(t)
	s.ExternalSecret("db", "v1", rolloutAuto)
	consumer := s.Workload(harness.WorkloadKinds[0], "consumer", nil, "db")

	requests := &requestLog{}
	cfg := rest.CopyConfig(s.CP.Config)
	cfg.Wrap(requests.wrap)
	s.BridgeConfig = cfg
	s.StartBridge(harness.TestOptions())
	s.WaitAdopted(consumer)

	for _, resource := range []string{"deployments", "externalsecrets", "secrets"} {
		collection := "/namespaces/" + s.NS + "/" + resource
		streamed, listed := requests.of(collection)
		if len(streamed) == 0 {
			t.Errorf("no watch streamed the %s of the namespace (sendInitialEvents=true); requests for them: %q", resource, listed)
		}
		if len(listed) > 0 {
			t.Errorf("the %s of the namespace were listed: %q", resource, listed)
		}
	}

	s.Rotate("db")
	s.ExpectRestarts(consumer, 1)
}

// requestLog records the collection reads a client makes.
type requestLog struct {
	mu sync.Mutex
	// reads are the path and query of each GET.
	reads []string
}

// wrap is a rest.Config transport wrapper that records each GET.
func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet {
			l.mu.Lock()
			l.reads = append(l.reads, r.URL.Path+"?"+r.URL.RawQuery)
			l.mu.Unlock()
		}
		return rt.RoundTrip(r)
	})
}

// of splits the reads of one collection (a path ending in it) into the
// watches that streamed its initial objects and the lists of it. A watch
// that goes on from a resource version (a stream's reconnection) is
// neither.
func (l *requestLog) of(collection string) (streamed, listed []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, read := range l.reads {
		path, query, _ := strings.Cut(read, "?")
		if !strings.HasSuffix(path, collection) {
			continue
		}
		params := strings.Split(query, "&")
		if slices.Contains(params, "watch=true") && slices.Contains(params, "sendInitialEvents=true") {
			streamed = append(streamed, read)
		} else if !slices.Contains(params, "watch=true") {
			listed = append(listed, read)
		}
	}
	return streamed, listed
}

// roundTripFunc is an http.RoundTripper of one function.
type roundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip implements http.RoundTripper.
func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

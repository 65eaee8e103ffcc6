package harness

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// Outage is a reverse proxy on loopback in front of a real endpoint, which
// answers 503 Service Unavailable while it is down: an AWS outage as the
// controller's SDK meets it, for an endpoint (moto) that cannot fail on
// demand itself.
type Outage struct {
	// URL is the proxy's address, to give the controller instead of the
	// endpoint's.
	URL  string
	down atomic.Bool
	// Refused counts the requests answered with 503.
	Refused atomic.Int64
}

// NewOutage starts a proxy to target, up; it stops when the test ends.
func NewOutage(t testing.TB, target string) *Outage {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	o := &Outage{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.down.Load() {
			o.Refused.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"__type":"ServiceUnavailableException","message":"outage"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	o.URL = server.URL
	return o
}

// Down starts (true) or ends (false) the outage.
func (o *Outage) Down(down bool) { o.down.Store(down) }

package localsm

import (
	"net/http"
	"time"
)

// Fault is an error the endpoint answers with instead of serving a call.
type Fault int

// The faults Secrets Manager is known to answer with under load or outage.
const (
	// Throttling answers 400 ThrottlingException, as AWS does past a quota.
	Throttling Fault = iota
	// ServerError answers 500 InternalServiceError.
	ServerError
	// Unavailable answers 503 ServiceUnavailable.
	Unavailable
)

func (f Fault) apiError() *apiError {
	switch f {
	case Throttling:
		return &apiError{http.StatusBadRequest, "ThrottlingException", "Rate exceeded"}
	case Unavailable:
		return &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable"}
	default:
		return &apiError{http.StatusInternalServerError, "InternalServiceError", "An internal error occurred"}
	}
}

// faults is the injection state; guarded by Server.mu.
type faults struct {
	// queue holds faults to answer, in order, to the next calls of an
	// operation ("" for any operation).
	queue   map[string][]Fault
	latency time.Duration
	// hang lists operations that never answer until the faults are cleared.
	hang map[string]bool
	// released is closed by ClearFaults, ending the hung calls.
	released chan struct{}
	// denied are secret IDs every call on which is refused.
	denied map[string]bool
}

// next returns the added latency and the fault (or nil) for one call of op.
func (f *faults) next(op string) (time.Duration, *apiError) {
	for _, key := range []string{op, ""} {
		if q := f.queue[key]; len(q) > 0 {
			f.queue[key] = q[1:]
			return f.latency, q[0].apiError()
		}
	}
	return f.latency, nil
}

// FailNext makes the next n calls of op ("" for any operation) fail with fault.
func (s *Server) FailNext(op string, n int, fault Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.queue == nil {
		s.faults.queue = map[string][]Fault{}
	}
	for range n {
		s.faults.queue[op] = append(s.faults.queue[op], fault)
	}
}

// SetLatency delays every call by d (0 removes the delay).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// Hang makes calls of op accept the request and never answer, as a
// half-broken network path does, until ClearFaults.
func (s *Server) Hang(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.hang == nil {
		s.faults.hang = map[string]bool{}
	}
	s.faults.hang[op] = true
	if s.faults.released == nil {
		s.faults.released = make(chan struct{})
	}
}

// Deny refuses every call on the secret id (a name or ARN, as the caller
// gives it) with AccessDeniedException, as AWS does for a secret in another
// account without a resource policy, or one an IAM policy leaves out, until
// ClearFaults.
func (s *Server) Deny(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.denied == nil {
		s.faults.denied = map[string]bool{}
	}
	s.faults.denied[id] = true
}

// ClearFaults removes queued faults, latency and hangs (hung calls then fail).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.released != nil {
		close(s.faults.released)
	}
	s.faults = faults{}
}

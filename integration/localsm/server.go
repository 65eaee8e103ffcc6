// Package localsm is an in-process AWS Secrets Manager endpoint speaking the
// AWS JSON 1.1 protocol, with Secrets Manager's staging-label semantics
// (AWSCURRENT, AWSPENDING, AWSPREVIOUS, promotion) and injectable faults
// (throttling, server errors, latency). The demo, the benchmarks and the fault
// tests run against it; a conformance suite holds it to the behaviour of
// moto and, where moto diverges from AWS, of AWS's documentation.
//
// It serves CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret,
// ListSecrets, ListSecretVersionIds, UpdateSecretVersionStage, DeleteSecret
// and BatchGetSecretValue, and STS AssumeRole and AssumeRoleWithWebIdentity.
// It checks no signatures, but records which access key signed each call and
// keeps each account's secrets apart: a caller is in the account its access
// key names (see AccountOfKey), so a role of another account reads that
// account's secrets.
package localsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is a local Secrets Manager endpoint. Its zero value is not usable;
// call New.
type Server struct {
	region, defaultAccount string

	mu sync.Mutex
	// accounts holds each account's secrets by name. While an operation
	// runs (s.mu held), account is the caller's and secrets its secrets.
	accounts map[string]map[string]*secret
	account  string
	secrets  map[string]*secret
	faults   faults
	calls    map[string]int
	sts      []STSCall           // STS calls, in order
	external map[string]string   // role ARN → the external ID it requires
	keys     map[string][]string // operation → signing access keys
	now      func() time.Time

	listener net.Listener
	http     *http.Server
}

// Options tunes New.
type Options struct {
	// Region appears in ARNs, us-east-1 by default. Account is the account
	// of callers whose keys name none (see AccountOfKey), 000000000000 by
	// default.
	Region, Account string
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// New returns a Server that is not listening yet; see Start, or use it as an
// http.Handler.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{region: opts.Region, defaultAccount: opts.Account, now: opts.Now,
		accounts: map[string]map[string]*secret{}, calls: map[string]int{}, keys: map[string][]string{}}
}

// Start serves on a free port of 127.0.0.1 and returns the endpoint URL.
func (s *Server) Start() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listening for the local Secrets Manager endpoint: %w", err)
	}
	s.listener = l
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(l) }()
	return s.URL(), nil
}

// URL is the endpoint's base URL, once started.
func (s *Server) URL() string { return "http://" + s.listener.Addr().String() }

// Close stops serving.
func (s *Server) Close() error {
	if s.http == nil {
		return nil
	}
	return s.http.Close()
}

// Calls returns how many times each operation has been called, faults included.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for op, n := range s.calls {
		out[op] = n
	}
	return out
}

// apiError is an error the way Secrets Manager reports one.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func notFound(id string) error {
	return &apiError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret: " + id}
}

func invalidParameter(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, args...)}
}

// operation handles one action: it decodes its input from body and returns
// the output to encode. It runs with s.mu held.
type operation func(s *Server, body []byte) (any, error)

var operations = map[string]operation{
	"CreateSecret":             (*Server).createSecret,
	"PutSecretValue":           (*Server).putSecretValue,
	"GetSecretValue":           (*Server).getSecretValue,
	"DescribeSecret":           (*Server).describeSecret,
	"ListSecrets":              (*Server).listSecrets,
	"ListSecretVersionIds":     (*Server).listSecretVersionIDs,
	"UpdateSecretVersionStage": (*Server).updateSecretVersionStage,
	"DeleteSecret":             (*Server).deleteSecret,
	"BatchGetSecretValue":      (*Server).batchGetSecretValue,
}

// ServeHTTP answers one AWS JSON 1.1 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if target == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		s.serveSTS(w, r)
		return
	}
	name, ok := strings.CutPrefix(target, "secretsmanager.")
	op, known := operations[name]
	if r.Method != http.MethodPost || !ok || !known {
		writeError(w, &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown operation %q", target)})
		return
	}
	var body json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "SerializationException", err.Error()})
		return
	}

	s.mu.Lock()
	s.calls[name]++
	s.recordSigner(name, r)
	delay, fault := s.faults.next(name)
	var hung chan struct{}
	if s.faults.hang[name] {
		hung = s.faults.released
	}
	s.mu.Unlock()
	if hung != nil {
		// Hang until the faults are cleared or the caller gives up; then fail.
		select {
		case <-hung:
			writeError(w, Unavailable.apiError())
		case <-r.Context().Done():
		}
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil {
		writeError(w, fault)
		return
	}

	s.mu.Lock()
	s.account = s.accountOfRequest(r)
	if s.accounts[s.account] == nil {
		s.accounts[s.account] = map[string]*secret{}
	}
	s.secrets = s.accounts[s.account]
	out, err := op(s, body)
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, err error) {
	var apiErr *apiError
	if !errors.As(err, &apiErr) {
		apiErr = &apiError{http.StatusInternalServerError, "InternalServiceError", err.Error()}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", apiErr.code)
	w.WriteHeader(apiErr.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": apiErr.code, "message": apiErr.message})
}

// epoch is how the JSON protocol carries timestamps: seconds since 1970.
func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

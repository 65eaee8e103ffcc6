package controlplane

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// auditPolicy has the API server log, at Metadata level (who, what, when; no
// body), the writes a benchmark times: workload patches and updates and
// ExternalSecret status writes. Everything else is left out, so that the
// log costs the other requests nothing but the policy's match.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["patch", "update"]
  resources:
  - group: apps
    resources: ["deployments", "statefulsets", "daemonsets"]
  - group: external-secrets.io
    resources: ["externalsecrets/status"]
- level: None
`

// auditFlags writes the audit policy into dir and returns the API server's
// flags that log by it into AuditLogPath. The log is written as each
// request is answered ("blocking"), so that it is complete when read.
func (cp *ControlPlane) auditFlags() ([]string, error) {
	policy := filepath.Join(cp.Dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	cp.AuditLogPath = filepath.Join(cp.LogDir, "audit.log")
	return []string{
		"--audit-policy-file=" + policy,
		"--audit-log-path=" + cp.AuditLogPath,
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
		"--audit-log-maxsize=0", // no rotation: a benchmark reads the whole log
	}, nil
}

// AuditEvent is one write the API server logged (see Options.Audit): the
// fields of an audit.k8s.io/v1 Event that a benchmark reads, timed by the
// API server's own clock.
type AuditEvent struct {
	// Verb is "patch" or "update".
	Verb string `json:"verb"`
	// UserAgent is the writer's, e.g. "eso-bridge/v0.4.0 (linux/amd64) ...".
	UserAgent string `json:"userAgent"`
	// ObjectRef is what was written.
	ObjectRef struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	// ResponseStatus.Code is the HTTP status of the answer.
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	// Received is when the request reached the API server.
	Received time.Time `json:"requestReceivedTimestamp"`
	// Answered is when the answer was complete: for a write, after etcd
	// committed it.
	Answered time.Time `json:"stageTimestamp"`
}

// AuditEvents reads the audit log of a control plane started with
// Options.Audit: every write logged so far, in the order answered.
func (cp *ControlPlane) AuditEvents() ([]AuditEvent, error) {
	if cp.AuditLogPath == "" {
		return nil, fmt.Errorf("the control plane was started without Options.Audit: there is no audit log")
	}
	f, err := os.Open(cp.AuditLogPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []AuditEvent
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("reading %s: %w", cp.AuditLogPath, err)
		}
		events = append(events, e)
	}
	return events, scanner.Err()
}

package localsm

import (
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// The endpoint also answers STS AssumeRole (query protocol), so that a
// store's role can be assumed against it: it hands out credentials whose
// access key names the role, and records which keys signed each call.

var credentialPattern = regexp.MustCompile(`Credential=([^/]+)/`)

// AssumedRoles returns the role ARNs assumed so far, in order.
func (s *Server) AssumedRoles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.assumed...)
}

// AccessKeys returns, per Secrets Manager operation, the access key IDs that
// signed its calls.
func (s *Server) AccessKeys() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for op, keys := range s.keys {
		out[op] = append([]string(nil), keys...)
	}
	return out
}

// AssumedAccessKey is the access key ID handed out for role.
func AssumedAccessKey(role string) string {
	sum := sha256.Sum256([]byte(role))
	return fmt.Sprintf("ASIA%X", sum[:8])
}

// recordSigner notes which access key signed a call of op.
func (s *Server) recordSigner(op string, r *http.Request) {
	if m := credentialPattern.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		s.keys[op] = append(s.keys[op], m[1])
	}
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	} `xml:"AssumeRoleResult"`
}

// serveSTS answers an STS query-protocol request; only AssumeRole is served.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "AssumeRole" {
		http.Error(w, "only STS AssumeRole is served here", http.StatusBadRequest)
		return
	}
	role := r.PostForm.Get("RoleArn")
	s.mu.Lock()
	s.assumed = append(s.assumed, role)
	s.mu.Unlock()
	var out assumeRoleResponse
	out.Result.Credentials.AccessKeyID = AssumedAccessKey(role)
	out.Result.Credentials.SecretAccessKey = "local"
	out.Result.Credentials.SessionToken = "local"
	out.Result.Credentials.Expiration = s.now().Add(time.Hour).UTC().Format(time.RFC3339)
	out.Result.AssumedRoleUser.Arn = role + "/" + r.PostForm.Get("RoleSessionName")
	out.Result.AssumedRoleUser.AssumedRoleID = "AROALOCAL:" + r.PostForm.Get("RoleSessionName")
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(out)
}

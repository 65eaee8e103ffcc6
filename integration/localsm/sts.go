package localsm

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The endpoint also answers STS AssumeRole and AssumeRoleWithWebIdentity
// (query protocol), so that a store's identity can be reproduced against it:
// it hands out credentials whose access key names the role's account (a
// caller with them reads that account's secrets), records every call with
// what it carried (external ID, session tags, the signer, the web identity
// token's subject), and refuses a role that requires an external ID when the
// call does not carry it.

var credentialPattern = regexp.MustCompile(`Credential=([^/]+)/`)

// STSCall is one STS call the endpoint answered or refused.
type STSCall struct {
	// Action is AssumeRole or AssumeRoleWithWebIdentity.
	Action string
	Role   string
	// Session is the RoleSessionName.
	Session string
	// ExternalID, Tags ("key=value", sorted) and TransitiveTagKeys are
	// AssumeRole's.
	ExternalID        string
	Tags              []string
	TransitiveTagKeys []string
	// Signer is the access key that signed an AssumeRole (the previous
	// role's, in a chain).
	Signer string
	// Subject and Audiences are the web identity token's sub and aud claims
	// (read, not verified).
	Subject   string
	Audiences []string
	// Refused is why the call was refused, or "".
	Refused string
}

// STSCalls returns the STS calls so far, in order.
func (s *Server) STSCalls() []STSCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]STSCall(nil), s.sts...)
}

// AssumedRoles returns the role ARNs assumed so far, in order.
func (s *Server) AssumedRoles() []string {
	var roles []string
	for _, call := range s.STSCalls() {
		if call.Refused == "" {
			roles = append(roles, call.Role)
		}
	}
	return roles
}

// RequireExternalID makes AssumeRole of role fail with AccessDenied unless
// it carries externalID, as a trust policy with sts:ExternalId does.
func (s *Server) RequireExternalID(role, externalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.external == nil {
		s.external = map[string]string{}
	}
	s.external[role] = externalID
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

var accountPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):`)

// AssumedAccessKey is the access key ID handed out for role: "ASIA", the
// role's account, and a digest of the role.
func AssumedAccessKey(role string) string {
	account := "000000000000"
	if m := accountPattern.FindStringSubmatch(role); m != nil {
		account = m[1]
	}
	sum := sha256.Sum256([]byte(role))
	return fmt.Sprintf("ASIA%s%X", account, sum[:4])
}

var keyAccountPattern = regexp.MustCompile(`^ASIA(\d{12})`)

// AccountOfKey is the account of a caller signing with accessKey: the one
// an AssumedAccessKey names, else "" (the server's default account).
func AccountOfKey(accessKey string) string {
	if m := keyAccountPattern.FindStringSubmatch(accessKey); m != nil {
		return m[1]
	}
	return ""
}

// signerOf is the access key that signed r, or "".
func signerOf(r *http.Request) string {
	if m := credentialPattern.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	return ""
}

// accountOfRequest is the account of r's caller; s.mu must be held.
func (s *Server) accountOfRequest(r *http.Request) string {
	if account := AccountOfKey(signerOf(r)); account != "" {
		return account
	}
	return s.defaultAccount
}

// recordSigner notes which access key signed a call of op.
func (s *Server) recordSigner(op string, r *http.Request) {
	if key := signerOf(r); key != "" {
		s.keys[op] = append(s.keys[op], key)
	}
}

// stsCredentials is the Credentials element of both actions' results.
type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type stsResult struct {
	Credentials     stsCredentials  `xml:"Credentials"`
	AssumedRoleUser assumedRoleUser `xml:"AssumedRoleUser"`
}

type assumeRoleResponse struct {
	XMLName xml.Name  `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result  stsResult `xml:"AssumeRoleResult"`
}

type assumeRoleWithWebIdentityResponse struct {
	XMLName xml.Name  `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
	Result  stsResult `xml:"AssumeRoleWithWebIdentityResult"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
}

// serveSTS answers an STS query-protocol request.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.PostForm
	call := STSCall{Action: form.Get("Action"), Role: form.Get("RoleArn"), Session: form.Get("RoleSessionName")}
	switch call.Action {
	case "AssumeRole":
		call.ExternalID, call.Signer = form.Get("ExternalId"), signerOf(r)
		for i := 1; form.Has(fmt.Sprintf("Tags.member.%d.Key", i)); i++ {
			call.Tags = append(call.Tags, form.Get(fmt.Sprintf("Tags.member.%d.Key", i))+"="+form.Get(fmt.Sprintf("Tags.member.%d.Value", i)))
		}
		sort.Strings(call.Tags)
		for i := 1; form.Has(fmt.Sprintf("TransitiveTagKeys.member.%d", i)); i++ {
			call.TransitiveTagKeys = append(call.TransitiveTagKeys, form.Get(fmt.Sprintf("TransitiveTagKeys.member.%d", i)))
		}
	case "AssumeRoleWithWebIdentity":
		call.Subject, call.Audiences = tokenClaims(form.Get("WebIdentityToken"))
		if call.Subject == "" {
			call.Refused = "the web identity token has no subject"
		}
	default:
		http.Error(w, "only STS AssumeRole and AssumeRoleWithWebIdentity are served here", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if want, ok := s.external[call.Role]; ok && call.Action == "AssumeRole" && want != call.ExternalID {
		call.Refused = "the role's trust policy requires an external ID the call did not carry"
	}
	s.sts = append(s.sts, call)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if call.Refused != "" {
		var out stsErrorResponse
		out.Error.Type, out.Error.Code = "Sender", "AccessDenied"
		out.Error.Message = "User is not authorized to perform: sts:" + call.Action + " on resource: " + call.Role + " (" + call.Refused + ")"
		w.WriteHeader(http.StatusForbidden)
		_ = xml.NewEncoder(w).Encode(out)
		return
	}
	session := call.Session
	result := stsResult{
		Credentials: stsCredentials{AccessKeyID: AssumedAccessKey(call.Role), SecretAccessKey: "local", SessionToken: "local",
			Expiration: s.now().Add(time.Hour).UTC().Format(time.RFC3339)},
		AssumedRoleUser: assumedRoleUser{Arn: call.Role + "/" + session, AssumedRoleID: "AROALOCAL:" + session},
	}
	if call.Action == "AssumeRole" {
		_ = xml.NewEncoder(w).Encode(assumeRoleResponse{Result: result})
		return
	}
	_ = xml.NewEncoder(w).Encode(assumeRoleWithWebIdentityResponse{Result: result})
}

// tokenClaims reads the sub and aud claims of a JWT without verifying it.
func tokenClaims(token string) (subject string, audiences []string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", nil
	}
	var claims struct {
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return "", nil
	}
	if json.Unmarshal(claims.Aud, &audiences) != nil {
		var one string
		if json.Unmarshal(claims.Aud, &one) == nil {
			audiences = []string{one}
		}
	}
	return claims.Sub, audiences
}

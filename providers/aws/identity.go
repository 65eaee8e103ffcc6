package aws

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esmeta "github.com/external-secrets/external-secrets/apis/meta/v1"
)

// Store is how ESO reaches one Secrets Manager, and so how eso-bridge must
// reach it to watch the same secrets: a region, the credentials ESO starts
// from (its own, a ServiceAccount's token, or static keys in a Secret), and
// the roles it assumes from them. Two stores that read different accounts
// never share an ID.
type Store struct {
	// Service is ServiceParameterStore for SSM Parameter Store, empty for
	// Secrets Manager.
	Service string
	Region  string
	// Role is assumed last, with ExternalID and SessionTags.
	Role string
	// AdditionalRoles are assumed in order before Role (a role chain).
	AdditionalRoles []string
	ExternalID      string
	// SessionTags are "key=value" pairs, sorted; TransitiveTagKeys name
	// those of them that pass on to later roles of a chain.
	SessionTags       []string
	TransitiveTagKeys []string
	// ServiceAccount is "namespace/name" of auth.jwt: its token, through the
	// TokenRequest API, is exchanged for the role its
	// eks.amazonaws.com/role-arn annotation names. Audiences are the store's
	// audiences beyond the ServiceAccount's own.
	ServiceAccount string
	Audiences      []string
	// AccessKeyID, SecretAccessKey and SessionToken are the Secret keys of
	// auth.secretRef, each "namespace/name/key".
	AccessKeyID, SecretAccessKey, SessionToken string
}

// ServiceParameterStore is Store.Service for SSM Parameter Store.
const ServiceParameterStore = "ssm"

// ID is the providers.Ref Store value of s: "aws/<region>/<role>" (for
// Parameter Store "aws-ssm/..."), and the rest of its identity as a query
// when there is any.
func (s Store) ID() string {
	prefix := "aws"
	if s.Service == ServiceParameterStore {
		prefix = "aws-ssm"
	}
	id := prefix + "/" + s.Region + "/" + s.Role
	q := url.Values{}
	set := func(name string, values ...string) {
		for _, v := range values {
			if v != "" {
				q.Add(name, v)
			}
		}
	}
	set("chain", s.AdditionalRoles...)
	set("externalID", s.ExternalID)
	set("tag", s.SessionTags...)
	set("transitive", s.TransitiveTagKeys...)
	set("serviceAccount", s.ServiceAccount)
	set("audience", s.Audiences...)
	set("accessKeyID", s.AccessKeyID)
	set("secretAccessKey", s.SecretAccessKey)
	set("sessionToken", s.SessionToken)
	if len(q) == 0 {
		return id
	}
	return id + "?" + q.Encode()
}

// ParseStoreID reverses ID.
func ParseStoreID(id string) (Store, bool) {
	path, query, _ := strings.Cut(id, "?")
	parts := strings.SplitN(path, "/", 3)
	if len(parts) != 3 || (parts[0] != "aws" && parts[0] != "aws-ssm") {
		return Store{}, false
	}
	service := ""
	if parts[0] == "aws-ssm" {
		service = ServiceParameterStore
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Store{}, false
	}
	return Store{
		Service: service, Region: parts[1], Role: parts[2],
		AdditionalRoles: q["chain"], ExternalID: q.Get("externalID"),
		SessionTags: q["tag"], TransitiveTagKeys: q["transitive"],
		ServiceAccount: q.Get("serviceAccount"), Audiences: q["audience"],
		AccessKeyID: q.Get("accessKeyID"), SecretAccessKey: q.Get("secretAccessKey"), SessionToken: q.Get("sessionToken"),
	}, true
}

// StoreOf is the identity ESO uses for provider when an ExternalSecret in
// namespace reads through a store of kind (SecretStore or
// ClusterSecretStore): as ESO's AWS provider resolves it, auth.jwt first,
// then auth.secretRef, and references without a namespace (or any reference
// of a namespaced store) in the ExternalSecret's namespace.
func StoreOf(provider *esv1.AWSProvider, kind, namespace string) Store {
	s := Store{
		Region: provider.Region, Role: provider.Role, AdditionalRoles: provider.AdditionalRoles,
		ExternalID: provider.ExternalID, TransitiveTagKeys: provider.TransitiveTagKeys,
	}
	for _, tag := range provider.SessionTags {
		if tag != nil {
			s.SessionTags = append(s.SessionTags, tag.Key+"="+tag.Value)
		}
	}
	sort.Strings(s.SessionTags)
	if provider.Service == esv1.AWSServiceParameterStore {
		s.Service = ServiceParameterStore
	}
	cluster := kind == esv1.ClusterSecretStoreKind
	inNamespace := func(ns *string) string {
		if cluster && ns != nil && *ns != "" {
			return *ns
		}
		return namespace
	}
	switch auth := provider.Auth; {
	case auth.JWTAuth != nil && auth.JWTAuth.ServiceAccountRef != nil:
		sa := auth.JWTAuth.ServiceAccountRef
		s.ServiceAccount = inNamespace(sa.Namespace) + "/" + sa.Name
		s.Audiences = slices.Clone(sa.Audiences)
	case auth.SecretRef != nil:
		key := func(ref esmeta.SecretKeySelector) string {
			return inNamespace(ref.Namespace) + "/" + ref.Name + "/" + ref.Key
		}
		s.AccessKeyID, s.SecretAccessKey = key(auth.SecretRef.AccessKeyID), key(auth.SecretRef.SecretAccessKey)
		if auth.SecretRef.SessionToken != nil {
			s.SessionToken = key(*auth.SecretRef.SessionToken)
		}
	}
	return s
}

// IdentityError says why eso-bridge cannot reach a store as ESO does: its
// secrets are then not watched (eso-bridge's own credentials may read a
// same-named secret of another account), and its readers are told why.
type IdentityError struct {
	// Reason is a short word for the metric: static-keys-not-read or
	// identity-unavailable.
	Reason string
	Err    error
}

// Reasons of IdentityError.
const (
	ReasonStaticKeysNotRead   = "static-keys-not-read"
	ReasonIdentityUnavailable = "identity-unavailable"
)

func (e *IdentityError) Error() string {
	return "eso-bridge cannot reach this store as ESO does, so it does not watch it: " + e.Err.Error()
}

func (e *IdentityError) Unwrap() error { return e.Err }

// unavailable wraps err as an IdentityError of ReasonIdentityUnavailable.
func unavailable(format string, args ...any) error {
	return &IdentityError{Reason: ReasonIdentityUnavailable, Err: fmt.Errorf(format, args...)}
}

// asIdentityError finds an IdentityError in err's chain (the SDK wraps the
// errors of credential providers).
func asIdentityError(err error) (*IdentityError, bool) {
	var identity *IdentityError
	ok := errors.As(err, &identity)
	return identity, ok
}

// Package metricsauth guards the HTTPS metrics endpoint (--metrics-secure):
// a scrape is served only with a bearer token the API server accepts
// (TokenReview) for a user it allows to get the path (SubjectAccessReview),
// as a kube-rbac-proxy in front of it would.
//
// controller-runtime ships the same filter (pkg/metrics/filters), built on
// k8s.io/apiserver's delegating authenticator and authorizer; linking it adds
// 126 packages (the API server's, CEL, gRPC, konnectivity) to the binary
// (7 MiB, and about 6 MiB of resident memory from their initialisation
// alone) for two API calls and a cache. This package makes the same calls
// with client-go's typed clients and caches their answers as that filter
// does — an accepted token for a minute, a decision to allow for five, a
// refusal for thirty seconds — but keeps a rejected token only ten seconds.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// How long an answer of the API server is reused (see the package doc); and
// how many answers are kept, so that a flood of made-up tokens costs bounded
// memory.
const (
	acceptedTokenTTL = time.Minute
	rejectedTokenTTL = 10 * time.Second
	allowTTL         = 5 * time.Minute
	denyTTL          = 30 * time.Second
	cacheSize        = 1024
	// reviewTimeout bounds one request's reviews, retries included.
	reviewTimeout = 10 * time.Second
)

// authenticatedGroup is the group the API server gives every authenticated
// user; added when a TokenReview leaves it out, as the API server's own
// delegating authenticator does, so that RBAC bound to it applies.
const authenticatedGroup = "system:authenticated"

// Filter is a metricsserver.Options.FilterProvider: it authenticates and
// authorizes each request with the API server config reaches.
func Filter(config *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	tokens, err := authnclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the TokenReview client: %w", err)
	}
	access, err := authzclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the SubjectAccessReview client: %w", err)
	}
	r := &reviewer{
		tokens:    tokens.TokenReviews(),
		access:    access.SubjectAccessReviews(),
		users:     cache.NewLRUExpireCache(cacheSize),
		decisions: cache.NewLRUExpireCache(cacheSize),
	}
	return func(log logr.Logger, handler http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.serve(log, handler, w, req)
		}), nil
	}, nil
}

// reviewer asks the API server about tokens and access, and remembers.
type reviewer struct {
	tokens authnclient.TokenReviewInterface
	access authzclient.SubjectAccessReviewInterface
	// users maps a token's SHA-256 (never the token) to its *user, nil when
	// the API server rejected it.
	users *cache.LRUExpireCache
	// decisions maps an accessKey to whether it is allowed. A token stands
	// for its user: it is authenticated again, through users, before each
	// use of a decision.
	decisions *cache.LRUExpireCache
}

// user is who a token belongs to.
type user struct {
	name, uid string
	groups    []string
	extra     map[string]authnv1.ExtraValue
}

// accessKey is one question to the authorizer: may the user of a token
// (its SHA-256) verb the path.
type accessKey struct {
	token      [sha256.Size]byte
	verb, path string
}

func (r *reviewer) serve(log logr.Logger, next http.Handler, w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), reviewTimeout)
	defer cancel()
	token, ok := bearerToken(req)
	if !ok {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	digest := sha256.Sum256([]byte(token))
	u, err := r.authenticate(ctx, digest, token)
	if err != nil {
		log.Error(err, "Authenticating a metrics request failed")
		http.Error(w, "Authentication failed", http.StatusInternalServerError)
		return
	}
	if u == nil {
		log.V(4).Info("Metrics request with a token the API server rejects")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	verb := strings.ToLower(req.Method)
	allowed, err := r.authorize(ctx, accessKey{token: digest, verb: verb, path: req.URL.Path}, u)
	if err != nil {
		log.Error(err, "Authorizing a metrics request failed", "user", u.name)
		http.Error(w, "Authorization failed", http.StatusInternalServerError)
		return
	}
	if !allowed {
		log.V(4).Info("Metrics request denied", "user", u.name, "verb", verb, "path", req.URL.Path)
		http.Error(w, fmt.Sprintf("Authorization denied for user %s", u.name), http.StatusForbidden)
		return
	}
	next.ServeHTTP(w, req)
}

// bearerToken is the token of an "Authorization: Bearer" header.
func bearerToken(req *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(req.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// authenticate returns the token's user, nil when the API server rejects
// it; digest is the token's SHA-256.
func (r *reviewer) authenticate(ctx context.Context, digest [sha256.Size]byte, token string) (*user, error) {
	if cached, ok := r.users.Get(digest); ok {
		return cached.(*user), nil
	}
	review, err := retry(ctx, func() (*authnv1.TokenReview, error) {
		return r.tokens.Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	})
	if err != nil {
		return nil, fmt.Errorf("creating a TokenReview: %w", err)
	}
	if !review.Status.Authenticated {
		r.users.Add(digest, (*user)(nil), rejectedTokenTTL)
		return nil, nil
	}
	info := review.Status.User
	u := &user{name: info.Username, uid: info.UID, groups: info.Groups, extra: info.Extra}
	if !slices.Contains(u.groups, authenticatedGroup) {
		u.groups = append(slices.Clone(u.groups), authenticatedGroup)
	}
	r.users.Add(digest, u, acceptedTokenTTL)
	return u, nil
}

// authorize reports whether u, the user of key's token, may verb key's
// non-resource path.
func (r *reviewer) authorize(ctx context.Context, key accessKey, u *user) (bool, error) {
	if cached, ok := r.decisions.Get(key); ok {
		return cached.(bool), nil
	}
	extra := make(map[string]authzv1.ExtraValue, len(u.extra))
	for k, v := range u.extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	review, err := retry(ctx, func() (*authzv1.SubjectAccessReview, error) {
		return r.access.Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: u.name, UID: u.uid, Groups: u.groups, Extra: extra,
			NonResourceAttributes: &authzv1.NonResourceAttributes{Path: key.path, Verb: key.verb},
		}}, metav1.CreateOptions{})
	})
	if err != nil {
		return false, fmt.Errorf("creating a SubjectAccessReview: %w", err)
	}
	allowed := review.Status.Allowed && !review.Status.Denied
	ttl := denyTTL
	if allowed {
		ttl = allowTTL
	}
	r.decisions.Add(key, allowed, ttl)
	return allowed, nil
}

// retry calls create until it succeeds, is refused or ctx ends, backing off
// as the API server's delegating clients do (0.5 s, growing 1.5 times, five
// tries).
func retry[T any](ctx context.Context, create func() (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.RandomizationFactor = 500*time.Millisecond, 1.5, 0.2
	var result T
	err := backoff.Retry(func() error {
		var err error
		result, err = create()
		// A refusal (the controller not allowed to create reviews, say) is
		// not retried: it would be refused again.
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(backoff.WithMaxRetries(b, 4), ctx))
	return result, err
}

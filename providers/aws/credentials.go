package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Identities reproduces the identity of ESO's stores: it is the default
// ClientFactory (see Client).
type Identities struct {
	// Kube reads the ServiceAccounts of auth.jwt stores and requests their
	// tokens, and reads the Secrets of auth.secretRef stores. Without it,
	// such stores are not watched. Only the core group is needed: the whole
	// clientset would link every group's client into the binary.
	Kube corev1client.CoreV1Interface
	// ReadStaticKeys lets eso-bridge read the access keys an auth.secretRef
	// store names. Off, such stores are not watched: a choice the user
	// makes, as it means reading credentials from Secrets.
	ReadStaticKeys bool
	// Base loads the configuration eso-bridge starts from in region: its
	// own credentials, from the default chain (IRSA, EKS Pod Identity,
	// environment) when nil. AWS_ENDPOINT_URL_SECRETS_MANAGER and
	// AWS_ENDPOINT_URL_STS are honoured.
	Base func(ctx context.Context, region string) (aws.Config, error)
}

// Annotations ESO reads on the ServiceAccount of an auth.jwt store (EKS's
// IRSA annotations).
const (
	annotationRoleARN  = "eks.amazonaws.com/role-arn"
	annotationAudience = "eks.amazonaws.com/audience"
	defaultAudience    = "sts.amazonaws.com"
	// sessionName names eso-bridge's sessions in CloudTrail.
	sessionName = "eso-bridge"
	// staticKeysTTL is how long keys read from a Secret are used before they
	// are read again: a rotation of those keys is picked up within it.
	staticKeysTTL = 5 * time.Minute
	// tokenSeconds is the life of a ServiceAccount token eso-bridge
	// requests: it is exchanged at once.
	tokenSeconds = 600
)

// Client builds the Secrets Manager client of store (see Config).
func (i Identities) Client(ctx context.Context, store Store) (API, error) {
	cfg, err := i.Config(ctx, store)
	if err != nil {
		return nil, err
	}
	return secretsmanager.NewFromConfig(cfg), nil
}

// ParameterClient builds the SSM Parameter Store client of store (see
// Config).
func (i Identities) ParameterClient(ctx context.Context, store Store) (ParameterAPI, error) {
	cfg, err := i.Config(ctx, store)
	if err != nil {
		return nil, err
	}
	return ssm.NewFromConfig(cfg), nil
}

// Config builds the AWS configuration of store the way ESO's AWS provider
// builds its own: starting credentials (eso-bridge's own, the
// ServiceAccount's web identity, or the static keys), then each additional
// role, then the store's role with its external ID and session tags. A store
// whose identity cannot be reproduced gets an *IdentityError, at once or
// from its first call.
func (i Identities) Config(ctx context.Context, store Store) (aws.Config, error) {
	base := i.Base
	if base == nil {
		base = func(ctx context.Context, region string) (aws.Config, error) {
			return config.LoadDefaultConfig(ctx, config.WithRegion(region))
		}
	}
	cfg, err := base(ctx, store.Region)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	switch {
	case store.ServiceAccount != "":
		if i.Kube == nil {
			return aws.Config{}, unavailable("the store authenticates as ServiceAccount %s, and eso-bridge has no Kubernetes client to request its token", store.ServiceAccount)
		}
		namespace, name, _ := strings.Cut(store.ServiceAccount, "/")
		cfg.Credentials = aws.NewCredentialsCache(&webIdentity{kube: i.Kube, namespace: namespace, name: name,
			audiences: store.Audiences, sts: sts.NewFromConfig(cfg)})
	case store.AccessKeyID != "":
		if !i.ReadStaticKeys {
			return aws.Config{}, &IdentityError{Reason: ReasonStaticKeysNotRead, Err: fmt.Errorf(
				"the store authenticates with the access keys of Secret %s, and eso-bridge reads such keys only with --aws-read-store-keys", secretOf(store.AccessKeyID))}
		}
		if i.Kube == nil {
			return aws.Config{}, unavailable("the store authenticates with the access keys of Secret %s, and eso-bridge has no Kubernetes client to read them", secretOf(store.AccessKeyID))
		}
		cfg.Credentials = aws.NewCredentialsCache(&staticKeys{kube: i.Kube, store: store})
	}
	for _, role := range store.AdditionalRoles {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), role))
	}
	if store.Role != "" {
		tags := make([]ststypes.Tag, 0, len(store.SessionTags))
		for _, pair := range store.SessionTags {
			key, value, _ := strings.Cut(pair, "=")
			tags = append(tags, ststypes.Tag{Key: aws.String(key), Value: aws.String(value)})
		}
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), store.Role,
			func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = sessionName
				if store.ExternalID != "" {
					o.ExternalID = aws.String(store.ExternalID)
				}
				if len(tags) > 0 {
					o.Tags, o.TransitiveTagKeys = tags, store.TransitiveTagKeys
				}
			}))
	}
	return cfg, nil
}

// secretOf is "namespace/name" of a "namespace/name/key" reference.
func secretOf(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[:i]
	}
	return ref
}

// webIdentity exchanges a ServiceAccount's token for the credentials of the
// role its annotation names, as ESO's auth.jwt does. The annotation is read
// at each exchange, so an edit takes effect when the credentials are renewed.
type webIdentity struct {
	kube            corev1client.CoreV1Interface
	namespace, name string
	audiences       []string
	sts             *sts.Client
}

// Retrieve implements aws.CredentialsProvider.
func (w *webIdentity) Retrieve(ctx context.Context) (aws.Credentials, error) {
	sa, err := w.kube.ServiceAccounts(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
	if err != nil {
		return aws.Credentials{}, unavailable("reading ServiceAccount %s/%s: %w", w.namespace, w.name, err)
	}
	role := sa.Annotations[annotationRoleARN]
	if role == "" {
		return aws.Credentials{}, unavailable("ServiceAccount %s/%s has no %s annotation, so ESO cannot use it either", w.namespace, w.name, annotationRoleARN)
	}
	audience := sa.Annotations[annotationAudience]
	if audience == "" {
		audience = defaultAudience
	}
	token, err := w.kube.ServiceAccounts(w.namespace).CreateToken(ctx, w.name, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		Audiences: append([]string{audience}, w.audiences...), ExpirationSeconds: aws.Int64(tokenSeconds),
	}}, metav1.CreateOptions{})
	if err != nil {
		return aws.Credentials{}, unavailable("requesting a token of ServiceAccount %s/%s: %w", w.namespace, w.name, err)
	}
	out, err := w.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String(sessionName), WebIdentityToken: aws.String(token.Status.Token),
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("assuming %s with the token of ServiceAccount %s/%s: %w", role, w.namespace, w.name, err)
	}
	c := out.Credentials
	return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), CanExpire: true, Expires: aws.ToTime(c.Expiration), Source: "eso-bridge web identity"}, nil
}

// staticKeys reads the access keys of an auth.secretRef store from its
// Secrets, live (they are never cached with the other objects), and uses
// them for staticKeysTTL.
type staticKeys struct {
	kube  corev1client.CoreV1Interface
	store Store
}

// Retrieve implements aws.CredentialsProvider. Each Secret is read once,
// however many of the keys it holds.
func (k *staticKeys) Retrieve(ctx context.Context) (aws.Credentials, error) {
	secrets := map[string]*corev1.Secret{}
	read := func(ref string) (string, error) {
		parts := strings.SplitN(ref, "/", 3)
		if len(parts) != 3 {
			return "", unavailable("malformed key reference %q", ref)
		}
		secret, ok := secrets[parts[0]+"/"+parts[1]]
		if !ok {
			var err error
			if secret, err = k.kube.Secrets(parts[0]).Get(ctx, parts[1], metav1.GetOptions{}); err != nil {
				return "", unavailable("reading the store's keys from Secret %s/%s: %w", parts[0], parts[1], err)
			}
			secrets[parts[0]+"/"+parts[1]] = secret
		}
		value, ok := secret.Data[parts[2]]
		if !ok {
			return "", unavailable("Secret %s/%s has no key %q for the store", parts[0], parts[1], parts[2])
		}
		return string(value), nil
	}
	creds := aws.Credentials{CanExpire: true, Expires: time.Now().Add(staticKeysTTL), Source: "eso-bridge store keys"}
	var err error
	if creds.AccessKeyID, err = read(k.store.AccessKeyID); err != nil {
		return aws.Credentials{}, err
	}
	if creds.SecretAccessKey, err = read(k.store.SecretAccessKey); err != nil {
		return aws.Credentials{}, err
	}
	if k.store.SessionToken != "" {
		if creds.SessionToken, err = read(k.store.SessionToken); err != nil {
			return aws.Credentials{}, err
		}
	}
	return creds, nil
}

package bridge

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/eso-bridge/eso-bridge/bridge/digest"
)

// DefaultDigestKeySecret is the name of the Secret, in eso-bridge's own
// namespace, that holds the key of its digests.
const DefaultDigestKeySecret = "eso-bridge-digest-key"

// digestKeyField is the Secret's data key that holds the key.
const digestKeyField = "key"

// ReadDigestKey reads the digest key from the Secret name; the error wraps
// the API server's (NotFound, Forbidden).
func ReadDigestKey(ctx context.Context, c client.Reader, name types.NamespacedName) (digest.Key, error) {
	key, _, err := readDigestKey(ctx, c, name)
	return key, err
}

// readDigestKey is ReadDigestKey, and when the key was made: when
// eso-bridge was installed.
func readDigestKey(ctx context.Context, c client.Reader, name types.NamespacedName) (digest.Key, time.Time, error) {
	secret := &corev1.Secret{}
	if err := c.Get(ctx, name, secret); err != nil {
		return digest.Key{}, time.Time{}, fmt.Errorf("reading the digest key Secret %s: %w", name, err)
	}
	key, err := digest.New(secret.Data[digestKeyField])
	if err != nil {
		return digest.Key{}, time.Time{}, fmt.Errorf("the digest key Secret %s, data key %q: %w", name, digestKeyField, err)
	}
	return key, secret.CreationTimestamp.Time, nil
}

// loadDigestKey reads the digest key from the Secret name, and creates the
// Secret with a random key if there is none yet. Every replica reads the same
// key, and it outlives them: a lost key makes eso-bridge re-adopt every
// workload, missing a rotation made meanwhile. Replicas that start together
// race to create it; the loser reads the winner's. It also returns when
// the key was made: when eso-bridge was installed.
func loadDigestKey(ctx context.Context, reader client.Reader, writer client.Writer, name types.NamespacedName) (digest.Key, time.Time, error) {
	for {
		key, made, err := readDigestKey(ctx, reader, name)
		if !apierrors.IsNotFound(err) {
			return key, made, err
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "eso-bridge"}},
			Type: corev1.SecretTypeOpaque,
			// Changing the key in place would re-adopt every workload.
			Immutable: ptr.To(true),
			Data:      map[string][]byte{digestKeyField: make([]byte, digest.MinKeyLength)},
		}
		_, _ = rand.Read(secret.Data[digestKeyField])
		err = writer.Create(ctx, secret)
		if err == nil {
			log.FromContext(ctx).Info("created the digest key Secret", "secret", name.String())
			key, err := digest.New(secret.Data[digestKeyField])
			return key, secret.CreationTimestamp.Time, err
		}
		if !apierrors.IsAlreadyExists(err) {
			return digest.Key{}, time.Time{}, fmt.Errorf("creating the digest key Secret %s: %w", name, err)
		}
	}
}

package controlplane

import (
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esmetav1 "github.com/external-secrets/external-secrets/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Scheme holds client-go's built-in Kubernetes types and ESO's v1 API. It is
// not the controller's (bridge.Scheme), which reads a Deployment as the
// compact workload.DeploymentRecord: tests make and read whole objects.
var Scheme = newScheme()

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(esv1.AddToScheme(scheme))
	return scheme
}

// SecretStoreName is the name of the SecretStore that SecretStoreObjects makes.
const SecretStoreName = "aws-secretsmanager"

// awsCredentialsSecret holds the static keys the local endpoint accepts.
const awsCredentialsSecret = "aws-local-credentials"

// SecretStoreObjects returns a SecretStore for the local AWS Secrets Manager
// endpoint in namespace, and the Secret holding its static test keys. ESO finds
// the endpoint through its own AWS_SECRETSMANAGER_ENDPOINT setting.
func SecretStoreObjects(namespace string) (*corev1.Secret, *esv1.SecretStore) {
	keys := awsKeys(namespace)
	store := &esv1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: SecretStoreName, Namespace: namespace},
		Spec:       awsStoreSpec(nil),
	}
	return keys, store
}

// ClusterSecretStoreObjects returns a ClusterSecretStore named SecretStoreName
// for the local endpoint, usable from every namespace, with its keys in
// keysNamespace.
func ClusterSecretStoreObjects(keysNamespace string) (*corev1.Secret, *esv1.ClusterSecretStore) {
	keys := awsKeys(keysNamespace)
	store := &esv1.ClusterSecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: SecretStoreName},
		Spec:       awsStoreSpec(&keysNamespace),
	}
	return keys, store
}

func awsKeys(namespace string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: awsCredentialsSecret, Namespace: namespace},
		StringData: map[string]string{"access-key-id": AWSAccessKeyID, "secret-access-key": AWSSecretAccessKey},
	}
}

// awsStoreSpec is a store spec for the local endpoint; keysNamespace is set
// only for a ClusterSecretStore, whose key references must name a namespace.
func awsStoreSpec(keysNamespace *string) esv1.SecretStoreSpec {
	return esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{AWS: &esv1.AWSProvider{
		Service: esv1.AWSServiceSecretsManager,
		Region:  AWSRegion,
		Auth: esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID:     esmetav1.SecretKeySelector{Name: awsCredentialsSecret, Namespace: keysNamespace, Key: "access-key-id"},
			SecretAccessKey: esmetav1.SecretKeySelector{Name: awsCredentialsSecret, Namespace: keysNamespace, Key: "secret-access-key"},
		}},
	}}}
}

// ExternalSecret returns an ExternalSecret in namespace that copies the AWS
// secret remoteKey, as a whole string, into key secretKey of a Secret of the
// same name, refreshed every refresh.
func ExternalSecret(namespace, name, remoteKey, secretKey string, refresh time.Duration) *esv1.ExternalSecret {
	return &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Kind: esv1.SecretStoreKind, Name: SecretStoreName},
			RefreshInterval: &metav1.Duration{Duration: refresh},
			Target:          esv1.ExternalSecretTarget{Name: name},
			Data: []esv1.ExternalSecretData{{
				SecretKey: secretKey,
				RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: remoteKey},
			}},
		},
	}
}

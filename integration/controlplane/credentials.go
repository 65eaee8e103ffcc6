package controlplane

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// credentials are the files kube-apiserver needs and the admin's way in.
type credentials struct {
	servingCert, servingKey string // TLS for the API server, valid for loopback only
	caData                  []byte // what clients trust
	serviceAccountKey       string // signs and verifies ServiceAccount tokens
	tokenFile               string // static token file holding the admin token
	adminToken              string
}

// adminUser is the admin's name in the token file; its group is system:masters.
const adminUser = "eso-bridge-admin"

// newCredentials writes a self-signed serving certificate for 127.0.0.1, ::1
// and localhost, a ServiceAccount signing key, and a static admin token into dir.
// A static token keeps the admin's kubeconfig to one line of secret material
// and needs no client certificate authority.
func newCredentials(dir string) (credentials, error) {
	cert, key, err := certutil.GenerateSelfSignedCertKey("127.0.0.1",
		[]net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}, []string{"localhost"})
	if err != nil {
		return credentials{}, fmt.Errorf("generating the serving certificate: %w", err)
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return credentials{}, fmt.Errorf("generating the service account key: %w", err)
	}
	saKeyPEM, err := keyutil.MarshalPrivateKeyToPEM(saKey)
	if err != nil {
		return credentials{}, err
	}
	tokenBytes := make([]byte, 24)
	if _, err := rand.Read(tokenBytes); err != nil {
		return credentials{}, err
	}
	creds := credentials{
		servingCert:       filepath.Join(dir, "apiserver.crt"),
		servingKey:        filepath.Join(dir, "apiserver.key"),
		caData:            cert,
		serviceAccountKey: filepath.Join(dir, "service-account.key"),
		tokenFile:         filepath.Join(dir, "tokens.csv"),
		adminToken:        hex.EncodeToString(tokenBytes),
	}
	files := map[string][]byte{
		creds.servingCert:       cert,
		creds.servingKey:        key,
		creds.serviceAccountKey: saKeyPEM,
		creds.tokenFile:         fmt.Appendf(nil, "%s,%s,%s-uid,\"system:masters\"\n", creds.adminToken, adminUser, adminUser),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return credentials{}, err
		}
	}
	return creds, nil
}

// restConfig is the admin's client configuration for the API server at host.
func (c credentials) restConfig(host string) *rest.Config {
	return &rest.Config{
		Host:            host,
		BearerToken:     c.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.caData},
		// The control plane is local and tests create objects in bursts; the
		// client-side default of 5 QPS would only slow them down.
		QPS:   200,
		Burst: 400,
	}
}

// writeKubeconfig writes a kubeconfig for the admin, with context name ctxName.
func (c credentials) writeKubeconfig(path, host, ctxName string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ctxName] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: c.caData}
	cfg.AuthInfos[ctxName] = &clientcmdapi.AuthInfo{Token: c.adminToken}
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: ctxName, AuthInfo: ctxName}
	cfg.CurrentContext = ctxName
	return clientcmd.WriteToFile(*cfg, path)
}

package controlplane

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/eso-bridge/eso-bridge/integration/toolchain"
)

// installESOCRDs installs ESO's CRD bundle of the same version as its binary
// and waits until the API server serves them. envtest's installer is used for
// its wait on the Established condition, not for envtest's processes.
func (cp *ControlPlane) installESOCRDs() error {
	if _, err := envtest.InstallCRDs(cp.Config, envtest.CRDInstallOptions{
		Paths:              []string{cp.Binaries.ExternalSecretsCRDs},
		ErrorIfPathMissing: true,
		MaxTime:            time.Minute,
	}); err != nil {
		return fmt.Errorf("installing ESO's CRDs from %s: %w", cp.Binaries.ExternalSecretsCRDs, err)
	}
	return nil
}

// startESO runs the real ESO controller against the local API server, with its
// AWS clients pointed at the local Secrets Manager endpoint.
func (cp *ControlPlane) startESO(ctx context.Context) error {
	livePort, err := freePort()
	if err != nil {
		return err
	}
	liveAddr := hostPort(livePort)
	// ESO before v0.18 has no live endpoint: its metrics endpoint answers
	// once its manager runs.
	readyURL := "http://" + liveAddr + "/healthz"
	metricsAddr, probe := "127.0.0.1:0", "--live-addr="+liveAddr
	if cp.Binaries.ExternalSecretsVersion == toolchain.ExternalSecretsOldestV1 {
		metricsAddr, probe, readyURL = liveAddr, "", "http://"+liveAddr+"/metrics"
	}
	args := []string{
		"--metrics-addr=" + metricsAddr,
		"--enable-leader-election=false",
		// The flood gate holds ExternalSecrets until their store is validated;
		// tests create both at once and want ESO's answer without that delay.
		"--enable-flood-gate=false",
		"--concurrent=4",
		"--loglevel=debug",
		"--zap-time-encoding=iso8601",
	}
	if probe != "" {
		args = append(args, probe)
	}
	p, err := cp.start("external-secrets", cp.Binaries.ExternalSecrets, args, []string{
		"KUBECONFIG=" + cp.KubeconfigPath,
		"AWS_SECRETSMANAGER_ENDPOINT=" + cp.SecretsManagerURL,
		"AWS_STS_ENDPOINT=" + cp.SecretsManagerURL,
		"AWS_SSM_ENDPOINT=" + cp.SecretsManagerURL,
		// Never ask the EC2 instance metadata service (a link-local address)
		// for credentials: the stores here carry static test keys.
		"AWS_EC2_METADATA_DISABLED=true",
	}, liveAddr)
	if err != nil {
		return err
	}
	return waitReady(ctx, p, 2*time.Minute, "healthz", func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, readyURL)
	})
}

// Package bridge is the eso-bridge controller. For each workload (Deployment,
// StatefulSet, DaemonSet, CronJob) it gathers the ESO-managed Secrets the
// workload follows — Secrets watched as metadata only — asks the Gate whether
// ESO has really finished writing them, and then restarts the workload once by
// patching its pod template with the hash of all its sources. The hash it last
// rolled to is recorded on the workload, so a controller restart or a leader
// change neither repeats nor loses a restart.
package bridge

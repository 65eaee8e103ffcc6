// Package bridge is the eso-bridge controller: it gathers each workload's
// ESO-managed sources, gates a restart until ESO has confirmed the write, and
// patches the pod template once per rotation. The controller itself is built
// under the next milestone; see ../shared/DESIGN.md and the open issues.
package bridge

package annotations

// AnnotationRestartWindow on a workload or an ExternalSecret: when in the
// week a rotation may restart the workload (or the ExternalSecret's
// consumers), e.g. "Mon-Fri 09:00-17:00 Europe/Paris"; package window
// says how it is written. A restart that comes outside it waits for it to
// open. The workload's own annotation comes first; else the windows of the
// ExternalSecrets that rotated, all open at once; else the
// --restart-window flag. A window that never opens is refused.
const AnnotationRestartWindow = "eso-bridge.io/restart-window"

{{- define "eso-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "eso-bridge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The image by digest when one is given (repository@sha256:...), else by tag. */}}
{{- define "eso-bridge.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "eso-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eso-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "eso-bridge.labels" -}}
{{ include "eso-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "eso-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "eso-bridge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
GOMEMLIMIT: goMemLimit when set, else 90% of resources.limits.memory, so that
the Go runtime collects harder before the kernel's OOM killer is near. The
limit must be a whole number with a binary or decimal suffix.
*/}}
{{- define "eso-bridge.goMemLimit" -}}
{{- if .Values.goMemLimit -}}
{{- .Values.goMemLimit -}}
{{- else -}}
{{- $limit := toString .Values.resources.limits.memory -}}
{{- if not (regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$" $limit) -}}
{{- fail (printf "resources.limits.memory %q: give a whole number with Ki, Mi, Gi, Ti, k, M, G or T (or set goMemLimit), so that GOMEMLIMIT can be set below it" $limit) -}}
{{- end -}}
{{- $digits := regexFind "^[0-9]+" $limit -}}
{{- $scale := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000) (trimPrefix $digits $limit) -}}
{{- div (mul (atoi $digits) $scale 9) 10 -}}
{{- end -}}
{{- end -}}

{{- define "eso-bridge.digestKeySecret" -}}
{{- .Values.digestKeySecret | default (printf "%s-digest-key" (include "eso-bridge.fullname" .)) }}
{{- end }}

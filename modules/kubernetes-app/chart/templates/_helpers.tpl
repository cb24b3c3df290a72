{{/* Names: the `helm create` scaffold's rules (63-character DNS labels). */}}
{{- define "mirror-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mirror-service.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mirror-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Every resource states its namespace, so rendered manifests never land in `default` by accident. */}}
{{- define "mirror-service.namespace" -}}
{{- .Release.Namespace }}
{{- end }}

{{- define "mirror-service.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* `repo:tag@digest`: the runtime pulls the digest; the tag stays readable in `kubectl get pods`. */}}
{{- define "mirror-service.image" -}}
{{- $reference := printf "%s:%s" .Values.image.repository (include "mirror-service.imageTag" .) }}
{{- if .Values.image.digest }}
{{- $reference = printf "%s@%s" $reference .Values.image.digest }}
{{- end }}
{{- $reference }}
{{- end }}

{{/* Selector labels: only name and instance, because a Deployment's selector can never change. */}}
{{- define "mirror-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mirror-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of the helm-test Pod: a different name, so neither the Service nor the PDB select it. */}}
{{- define "mirror-service.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-test" (include "mirror-service.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels shared by every resource except the helm-test Pod (which must not match the selector). */}}
{{- define "mirror-service.commonLabels" -}}
helm.sh/chart: {{ include "mirror-service.chart" . }}
app.kubernetes.io/version: {{ include "mirror-service.imageTag" . | trunc 63 | trimAll "-_." | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "mirror-service.name" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mirror-service.labels" -}}
{{ include "mirror-service.selectorLabels" . }}
{{ include "mirror-service.commonLabels" . }}
{{- end }}

{{/* Pods carrying this label are admitted by the NetworkPolicy even when allowExternal is false. */}}
{{- define "mirror-service.clientLabel" -}}
{{- printf "%s-client" (include "mirror-service.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mirror-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mirror-service.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pods read: the one named by secrets.existingSecret, or the chart's own. */}}
{{- define "mirror-service.secretName" -}}
{{- default (include "mirror-service.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* "true" when the chart renders its own Secret: no existing Secret and at least one inline value. */}}
{{- define "mirror-service.createSecret" -}}
{{- $s := .Values.secrets }}
{{- if and (not $s.existingSecret) (or $s.uploadToken $s.awsAccessKeyId $s.awsSecretAccessKey) }}true{{ end }}
{{- end }}

{{/* "true" when the chart renders the image pull Secret (secrets.registry*: a private registry on a fresh cluster). */}}
{{- define "mirror-service.createRegistrySecret" -}}
{{- if .Values.secrets.registryPassword }}true{{ end }}
{{- end }}

{{- define "mirror-service.registrySecretName" -}}
{{- printf "%s-registry" (include "mirror-service.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The pods' imagePullSecrets: the existing ones named in values, then the chart's own pull Secret. */}}
{{- define "mirror-service.imagePullSecrets" -}}
{{- $secrets := .Values.imagePullSecrets }}
{{- if include "mirror-service.createRegistrySecret" . }}
{{- $secrets = append $secrets (dict "name" (include "mirror-service.registrySecretName" .)) }}
{{- end }}
{{- with $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* "true" when the pods reference a Secret at all. */}}
{{- define "mirror-service.usesSecret" -}}
{{- if or .Values.secrets.existingSecret (include "mirror-service.createSecret" .) }}true{{ end }}
{{- end }}

{{- define "mirror-service.preStopSeconds" -}}
{{- if eq .Values.shutdown.preStopAction "none" }}0{{ else }}{{ .Values.shutdown.preStopSeconds }}{{ end }}
{{- end }}

{{/* The shortest grace period that lets preStop finish and gunicorn drain: preStop + graceful timeout + margin. */}}
{{- define "mirror-service.minimumGracePeriod" -}}
{{- add (include "mirror-service.preStopSeconds" . | int) (int .Values.server.GUNICORN_GRACEFUL_TIMEOUT) (int .Values.shutdown.marginSeconds) }}
{{- end }}

{{- define "mirror-service.terminationGracePeriodSeconds" -}}
{{- $minimum := include "mirror-service.minimumGracePeriod" . | int }}
{{- $explicit := .Values.shutdown.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $explicit }}{{ $minimum }}{{ else }}{{ int $explicit }}{{ end }}
{{- end }}

{{/*
Sizing, Bitnami's resourcesPreset style: what the pod's resources imply for the server, unless set.
The rule and the measurements behind it: bench/README.md, "The chart's sizing".
*/}}
{{/* CPUs of resources.limits.cpu, rounded up, at least 1 ("500m" → 1, "2" → 2, "1.5" → 2; no limit → 1). */}}
{{- define "mirror-service.cpuLimit" -}}
{{- $cpu := toString (dig "limits" "cpu" "" (.Values.resources | default dict)) }}
{{- $cpus := 1 }}
{{- if hasSuffix "m" $cpu }}
{{- $cpus = div (add (trimSuffix "m" $cpu | int) 999) 1000 }}
{{- else if $cpu }}
{{- $cpus = ceil (float64 $cpu) | int }}
{{- end }}
{{- max 1 $cpus }}
{{- end }}

{{/* "true" when server.<name> is set: not absent, null or "" (unset, the service's default applies). */}}
{{- define "mirror-service.serverSettingSet" -}}
{{- $value := index .Values.server .name }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}true{{ end }}
{{- end }}

{{/* WEB_CONCURRENCY: server.WEB_CONCURRENCY, else one gevent worker per CPU of the limit (a worker is one thread;
more than the quota are throttled in bursts). */}}
{{- define "mirror-service.workers" -}}
{{- if include "mirror-service.serverSettingSet" (dict "Values" .Values "name" "WEB_CONCURRENCY") }}
{{- .Values.server.WEB_CONCURRENCY | int }}
{{- else }}
{{- include "mirror-service.cpuLimit" . }}
{{- end }}
{{- end }}

{{/* GUNICORN_WORKER_CONNECTIONS: server.GUNICORN_WORKER_CONNECTIONS, else the pod's budget of 2,000 held
connections shared by its workers (rounded up). */}}
{{- define "mirror-service.workerConnections" -}}
{{- if include "mirror-service.serverSettingSet" (dict "Values" .Values "name" "GUNICORN_WORKER_CONNECTIONS") }}
{{- .Values.server.GUNICORN_WORKER_CONNECTIONS | int }}
{{- else }}
{{- $workers := include "mirror-service.workers" . | int | max 1 }}
{{- div (add 2000 (sub $workers 1)) $workers }}
{{- end }}
{{- end }}

{{/* The port of s3.endpointUrl (explicit, or the scheme's default), for the NetworkPolicy. */}}
{{- define "mirror-service.s3EndpointPort" -}}
{{- $url := urlParse .Values.s3.endpointUrl }}
{{- $hostPort := regexFind ":[0-9]+$" $url.host }}
{{- if $hostPort }}{{ trimPrefix ":" $hostPort }}{{ else if eq $url.scheme "https" }}443{{ else }}80{{ end }}
{{- end }}

{{/*
checkov findings that do not apply, with the reason rendered next to them (checkov reads
`checkov.io/skipN: <check>=<reason>` annotations). Input: dict "root" $ "pod" bool ("pod": the test hook).
*/}}
{{- define "mirror-service.checkovSkips" -}}
{{- $root := .root }}
{{- $skips := list }}
{{- if not $root.Values.image.digest }}
{{- $skips = append $skips "CKV_K8S_43=image.digest is empty, so the image is pulled by tag; set image.digest (the release pipeline's digest) to pin it" }}
{{- end }}
{{- $skips = append $skips "CKV_K8S_15=imagePullPolicy IfNotPresent on purpose: tags are immutable in our registry (or a digest pins the image), and restarts must not depend on the registry" }}
{{- if .pod }}
{{- $skips = append $skips "CKV_K8S_8=one-shot helm test Pod: it exits after two HTTP calls, a liveness probe has nothing to watch" }}
{{- $skips = append $skips "CKV_K8S_9=one-shot helm test Pod: it serves no traffic, a readiness probe has nothing to gate" }}
{{- else if include "mirror-service.usesSecret" $root }}
{{- $skips = append $skips "CKV_K8S_35=the service reads UPLOAD_TOKEN (and, in dev, static AWS keys) from its environment by contract (docs/CONTRACTS.md); each variable comes from a secretKeyRef, never a literal" }}
{{- end }}
{{- range $index, $skip := $skips }}
checkov.io/skip{{ add1 $index }}: {{ $skip | quote }}
{{- end }}
{{- end }}

{{/*
Ingress annotations: with className alb, what the AWS Load Balancer Controller needs for this chart
(annotation reference: https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/):
- target-type ip: the Service is ClusterIP; instance targets route to a NodePort and need a NodePort
  Service (kubernetes-sigs/aws-load-balancer-controller#1695, maintainer's answer).
- scheme: the controller's default is internal; the chart states it (ingress.alb.scheme).
- healthcheck-path: the ALB's default `/` gets a 404 from the service.
- with a certificate: listen-ports 80 + 443 and ssl-redirect 443 (guide/tasks/ssl_redirect: the redirect
  port must be an HTTPS port of listen-ports, and certificate-arn is needed to listen for HTTPS).
Then ingress.annotations, which win.
*/}}
{{- define "mirror-service.ingressAnnotations" -}}
{{- $i := .Values.ingress }}
{{- $annotations := dict }}
{{- if eq $i.className "alb" }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/target-type" "ip" }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/scheme" $i.alb.scheme }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/healthcheck-path" $i.alb.healthcheckPath }}
{{- if $i.alb.certificateArn }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/certificate-arn" $i.alb.certificateArn }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/listen-ports" "[{\"HTTP\": 80}, {\"HTTPS\": 443}]" }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/ssl-redirect" "443" }}
{{- else }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/listen-ports" "[{\"HTTP\": 80}]" }}
{{- end }}
{{- end }}
{{- toYaml (merge (deepCopy $i.annotations) $annotations) }}
{{- end }}

{{/* "https" when the Ingress terminates TLS (an ALB certificate or a TLS Secret), else "http". */}}
{{- define "mirror-service.ingressScheme" -}}
{{- if or (and (eq .Values.ingress.className "alb") .Values.ingress.alb.certificateArn) (and (ne .Values.ingress.className "alb") .Values.ingress.tls) }}https{{ else }}http{{ end }}
{{- end }}

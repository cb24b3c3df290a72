{{/*
Rules across several values, which values.schema.json cannot state with a readable message, written once: the
Terraform module does not repeat them (it hands the chart every value, secrets through set_sensitive), so its
consumers meet them at apply, and each message about a secret or about prod names the module's input as well.
Every message says what to change. Included from deployment.yaml, so any render, lint or install stops here.
*/}}
{{- define "mirror-service.validateValues" -}}
{{- $v := .Values }}
{{- $prod := eq $v.environment "prod" }}
{{- $errors := list }}
{{- if and $prod (or $v.secrets.awsAccessKeyId $v.secrets.awsSecretAccessKey) }}
{{- $errors = append $errors "secrets.awsAccessKeyId/awsSecretAccessKey (static keys for an emulator or Minikube) are refused when environment is prod: on EKS the pods get AWS credentials from Pod Identity or IRSA (serviceAccount.roleArn). Remove the keys (Terraform module: s3_access_key_id, s3_secret_access_key)." }}
{{- end }}
{{- if and $prod (not $v.secrets.uploadToken) (not $v.secrets.existingSecret) }}
{{- $errors = append $errors "environment prod requires an upload token: set secrets.uploadToken (through a secret channel) or secrets.existingSecret with an UPLOAD_TOKEN key (Terraform module: upload_token or existing_secret_name)." }}
{{- end }}
{{- if and $prod (not $v.autoscaling.enabled) (lt (int $v.replicaCount) 2) }}
{{- $errors = append $errors (printf "environment prod needs at least 2 replicas to survive a node drain or a rollout: set replicaCount >= 2 (got %d) or autoscaling.enabled with minReplicas >= 2 (Terraform module: replicas, autoscaling)." (int $v.replicaCount)) }}
{{- end }}
{{- if and $prod $v.autoscaling.enabled (lt (int $v.autoscaling.minReplicas) 2) }}
{{- $errors = append $errors (printf "environment prod needs autoscaling.minReplicas >= 2 (got %d) (Terraform module: autoscaling.min_replicas)." (int $v.autoscaling.minReplicas)) }}
{{- end }}
{{- if ne (empty $v.secrets.awsAccessKeyId) (empty $v.secrets.awsSecretAccessKey) }}
{{- $errors = append $errors "secrets.awsAccessKeyId and secrets.awsSecretAccessKey go together: set both (dev: emulator or Minikube) or neither (Pod Identity/IRSA) (Terraform module: s3_access_key_id and s3_secret_access_key)." }}
{{- end }}
{{- if and $v.secrets.existingSecret (or $v.secrets.uploadToken $v.secrets.awsAccessKeyId $v.secrets.awsSecretAccessKey) }}
{{- $errors = append $errors (printf "secrets.existingSecret (%s) and inline secrets.* values exclude each other: put the values into that Secret or unset existingSecret (Terraform module: existing_secret_name, or upload_token / s3_access_key_id)." $v.secrets.existingSecret) }}
{{- end }}
{{- $registry := list $v.secrets.registryServer $v.secrets.registryUsername $v.secrets.registryPassword }}
{{- if and (has "" $registry) (not (eq (compact $registry | len) 0)) }}
{{- $errors = append $errors "secrets.registryServer, secrets.registryUsername and secrets.registryPassword go together: set all three (the chart then creates the image pull Secret) or none." }}
{{- end }}
{{- $alb := eq $v.ingress.className "alb" }}
{{- $targetType := index $v.ingress.annotations "alb.ingress.kubernetes.io/target-type" | default "ip" }}
{{- if and $v.ingress.enabled $alb (eq $targetType "instance") (eq $v.service.type "ClusterIP") }}
{{- $errors = append $errors "ingress annotation alb.ingress.kubernetes.io/target-type: instance needs a NodePort or LoadBalancer Service, and service.type is ClusterIP: remove the annotation (the chart sets target-type ip) or change service.type." }}
{{- end }}
{{- if and $v.ingress.enabled $alb $v.ingress.tls }}
{{- $errors = append $errors "ingress.tls gives an ALB no certificate (the AWS Load Balancer Controller takes it from ACM): set ingress.alb.certificateArn and leave ingress.tls empty." }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- $errors = append $errors (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)." (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- end }}
{{- $minAvailableSet := ne (toString $v.pdb.minAvailable) "" }}
{{- $maxUnavailableSet := ne (toString $v.pdb.maxUnavailable) "" }}
{{- if and $v.pdb.enabled $minAvailableSet $maxUnavailableSet }}
{{- $errors = append $errors "pdb.minAvailable and pdb.maxUnavailable exclude each other: set one and leave the other empty (\"\")." }}
{{- end }}
{{- if and $v.pdb.enabled (not $minAvailableSet) (not $maxUnavailableSet) }}
{{- $errors = append $errors "pdb.enabled needs pdb.maxUnavailable or pdb.minAvailable." }}
{{- end }}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.parentRefs) }}
{{- $errors = append $errors "httpRoute.enabled needs httpRoute.parentRefs: the Gateway (listener) the route attaches to." }}
{{- end }}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.rules) }}
{{- $errors = append $errors "httpRoute.enabled needs at least one entry in httpRoute.rules." }}
{{- end }}
{{- if and $v.ingress.enabled (not $v.ingress.hosts) }}
{{- $errors = append $errors "ingress.enabled needs at least one entry in ingress.hosts." }}
{{- end }}
{{- /* Server settings are the service's to validate (app/mirror_service/config.py); only where they meet: */ -}}
{{- $shadowed := list }}
{{- range $name, $_ := $v.config.extraEnv }}{{ if hasKey $v.server $name }}{{ $shadowed = append $shadowed $name }}{{ end }}{{ end }}
{{- if $shadowed }}
{{- $errors = append $errors (printf "config.extraEnv sets %s, a server setting: set server.%s instead." (join ", " $shadowed) (first $shadowed)) }}
{{- end }}
{{- $minimumGrace := include "mirror-service.minimumGracePeriod" . | int }}
{{- $grace := include "mirror-service.terminationGracePeriodSeconds" . | int }}
{{- if lt $grace $minimumGrace }}
{{- $errors = append $errors (printf "shutdown.terminationGracePeriodSeconds (%d) is shorter than preStop (%s s) + server.GUNICORN_GRACEFUL_TIMEOUT (%d s) + shutdown.marginSeconds (%d s) = %d: in-flight requests would be killed. Raise it or leave it null to compute it." $grace (include "mirror-service.preStopSeconds" .) (int $v.server.GUNICORN_GRACEFUL_TIMEOUT) (int $v.shutdown.marginSeconds) $minimumGrace) }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nINVALID VALUES:\n- %s" (join "\n- " $errors)) }}
{{- end }}
{{- end }}

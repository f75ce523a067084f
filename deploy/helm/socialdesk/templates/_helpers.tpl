{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "socialdesk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already contains the chart name. */}}
{{- define "socialdesk.fullname" -}}
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

{{- define "socialdesk.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "socialdesk.labels" -}}
helm.sh/chart: {{ include "socialdesk.chart" . }}
{{ include "socialdesk.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: socialdesk
{{- end }}

{{- define "socialdesk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "socialdesk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one service's pods: call with (dict "root" $ "name" "triage"). */}}
{{- define "socialdesk.componentLabels" -}}
{{ include "socialdesk.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "socialdesk.componentSelector" -}}
{{ include "socialdesk.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "socialdesk.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "socialdesk.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "socialdesk.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Environment shared by every container: where Kafka and Elasticsearch are, and how
     to reach them. Secrets only ever come from existing Secrets. */}}
{{- define "socialdesk.env" -}}
- {name: SOCIALDESK_ENVIRONMENT, value: {{ .Values.environment | quote }}}
- {name: SOCIALDESK_HTTP_HOST, value: "0.0.0.0"}
- {name: SOCIALDESK_HTTP_PORT, value: {{ .Values.containerPort | quote }}}
- {name: SOCIALDESK_KAFKA_BOOTSTRAP, value: {{ .Values.kafka.bootstrapServers | quote }}}
- {name: SOCIALDESK_KAFKA_SECURITY_PROTOCOL, value: {{ .Values.kafka.securityProtocol | quote }}}
- {name: SOCIALDESK_TOPIC_PREFIX, value: {{ .Values.kafka.topicPrefix | quote }}}
- {name: SOCIALDESK_ELASTICSEARCH_URL, value: {{ .Values.elasticsearch.url | quote }}}
- {name: SOCIALDESK_INDEX_PREFIX, value: {{ .Values.elasticsearch.indexPrefix | quote }}}
- {name: SOCIALDESK_AUTHOR_HISTORY_DAYS, value: {{ .Values.elasticsearch.authorHistoryDays | quote }}}
- {name: SOCIALDESK_CONFIG_DIR, value: /app/config}
- {name: PYTHONDONTWRITEBYTECODE, value: "1"}
- name: SOCIALDESK_INSTANCE
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
{{- if .Values.vault.existingSecret }}
- name: SOCIALDESK_VAULT_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.vault.existingSecret | quote }}, key: {{ .Values.vault.keyKey | quote }}}}
{{- end }}
{{- if .Values.kafka.sasl.mechanism }}
- {name: SOCIALDESK_KAFKA_SASL_MECHANISM, value: {{ .Values.kafka.sasl.mechanism | quote }}}
- name: SOCIALDESK_KAFKA_SASL_USERNAME
  valueFrom: {secretKeyRef: {name: {{ .Values.kafka.sasl.existingSecret | quote }}, key: {{ .Values.kafka.sasl.usernameKey | quote }}}}
- name: SOCIALDESK_KAFKA_SASL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .Values.kafka.sasl.existingSecret | quote }}, key: {{ .Values.kafka.sasl.passwordKey | quote }}}}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- {name: SOCIALDESK_KAFKA_SSL_CAFILE, value: /etc/socialdesk/kafka-ca/{{ .Values.kafka.tls.caKey }}}
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- {name: SOCIALDESK_KAFKA_SSL_CERTFILE, value: /etc/socialdesk/kafka-client/{{ .Values.kafka.tls.certKey }}}
- {name: SOCIALDESK_KAFKA_SSL_KEYFILE, value: /etc/socialdesk/kafka-client/{{ .Values.kafka.tls.keyKey }}}
{{- end }}
{{- if .Values.elasticsearch.tls.caSecret }}
- {name: SOCIALDESK_ELASTICSEARCH_CA_CERTS, value: /etc/socialdesk/es-ca/{{ .Values.elasticsearch.tls.caKey }}}
{{- end }}
{{- if and .Values.elasticsearch.existingSecret .Values.elasticsearch.apiKeyKey }}
- name: SOCIALDESK_ELASTICSEARCH_API_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.elasticsearch.existingSecret | quote }}, key: {{ .Values.elasticsearch.apiKeyKey | quote }}}}
{{- end }}
{{- if and .Values.elasticsearch.existingSecret .Values.elasticsearch.usernameKey }}
- name: SOCIALDESK_ELASTICSEARCH_USERNAME
  valueFrom: {secretKeyRef: {name: {{ .Values.elasticsearch.existingSecret | quote }}, key: {{ .Values.elasticsearch.usernameKey | quote }}}}
- name: SOCIALDESK_ELASTICSEARCH_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .Values.elasticsearch.existingSecret | quote }}, key: {{ .Values.elasticsearch.passwordKey | quote }}}}
{{- end }}
{{- end }}

{{/* Volumes every pod mounts: a writable /tmp (the root filesystem is read-only), the
     Kafka CA and the force configuration when given. */}}
{{- define "socialdesk.volumes" -}}
- name: tmp
  emptyDir: {sizeLimit: 64Mi}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: {secretName: {{ .Values.kafka.tls.caSecret | quote }}, items: [{key: {{ .Values.kafka.tls.caKey | quote }}, path: {{ .Values.kafka.tls.caKey | quote }}}]}
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.tls.clientSecret | quote }}
    defaultMode: 0440
    items:
      - {key: {{ .Values.kafka.tls.certKey | quote }}, path: {{ .Values.kafka.tls.certKey | quote }}}
      - {key: {{ .Values.kafka.tls.keyKey | quote }}, path: {{ .Values.kafka.tls.keyKey | quote }}}
{{- end }}
{{- if .Values.elasticsearch.tls.caSecret }}
- name: es-ca
  secret: {secretName: {{ .Values.elasticsearch.tls.caSecret | quote }}, items: [{key: {{ .Values.elasticsearch.tls.caKey | quote }}, path: {{ .Values.elasticsearch.tls.caKey | quote }}}]}
{{- end }}
{{- if .Values.forceConfig.existingConfigMap }}
- name: forces
  configMap: {name: {{ .Values.forceConfig.existingConfigMap | quote }}}
{{- end }}
{{- end }}

{{- define "socialdesk.volumeMounts" -}}
- {name: tmp, mountPath: /tmp}
{{- if .Values.kafka.tls.caSecret }}
- {name: kafka-ca, mountPath: /etc/socialdesk/kafka-ca, readOnly: true}
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- {name: kafka-client, mountPath: /etc/socialdesk/kafka-client, readOnly: true}
{{- end }}
{{- if .Values.elasticsearch.tls.caSecret }}
- {name: es-ca, mountPath: /etc/socialdesk/es-ca, readOnly: true}
{{- end }}
{{- if .Values.forceConfig.existingConfigMap }}
- {name: forces, mountPath: /app/config/forces, readOnly: true}
{{- end }}
{{- end }}

{{/* The console's public URL: console.publicUrl, else https://<ingress.consoleHost> when
     the Ingress serves it; empty when neither is set. */}}
{{- define "socialdesk.publicUrl" -}}
{{- if .Values.console.publicUrl }}
{{- .Values.console.publicUrl | trimSuffix "/" }}
{{- else if .Values.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.consoleHost }}
{{- end }}
{{- end }}

{{/* Refuse, at render time, what a service would refuse at start-up (or what would leave
     it unusable), naming the value to set. Included once by deployment.yaml. */}}
{{- define "socialdesk.validate" -}}
{{- $v := .Values }}
{{- $prod := eq $v.environment "production" }}
{{- if and (hasPrefix "SASL_" $v.kafka.securityProtocol) (not $v.kafka.sasl.mechanism) }}
{{- fail (printf "kafka.sasl.mechanism is required with kafka.securityProtocol=%s (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)" $v.kafka.securityProtocol) }}
{{- end }}
{{- if and $v.kafka.sasl.mechanism (not (hasPrefix "SASL_" $v.kafka.securityProtocol)) }}
{{- fail (printf "kafka.securityProtocol must be SASL_SSL or SASL_PLAINTEXT with kafka.sasl.mechanism=%s" $v.kafka.sasl.mechanism) }}
{{- end }}
{{- if and $v.kafka.sasl.mechanism (not $v.kafka.sasl.existingSecret) }}
{{- fail "kafka.sasl.existingSecret is required with kafka.sasl.mechanism: the Secret holding the SASL username and password" }}
{{- end }}
{{- if and (or $v.kafka.tls.caSecret $v.kafka.tls.clientSecret) (not (has $v.kafka.securityProtocol (list "SSL" "SASL_SSL"))) }}
{{- fail "kafka.tls is set but kafka.securityProtocol is not SSL or SASL_SSL: the certificates would never be used" }}
{{- end }}
{{- if and $v.elasticsearch.existingSecret (not (or $v.elasticsearch.apiKeyKey $v.elasticsearch.usernameKey)) }}
{{- fail "elasticsearch.apiKeyKey (or elasticsearch.usernameKey and elasticsearch.passwordKey) is required with elasticsearch.existingSecret" }}
{{- end }}
{{- if and $v.elasticsearch.usernameKey (not $v.elasticsearch.passwordKey) }}
{{- fail "elasticsearch.passwordKey is required with elasticsearch.usernameKey" }}
{{- end }}
{{- if and (or $v.elasticsearch.apiKeyKey $v.elasticsearch.usernameKey) (not $v.elasticsearch.existingSecret) }}
{{- fail "elasticsearch.existingSecret is required with elasticsearch.apiKeyKey or elasticsearch.usernameKey" }}
{{- end }}
{{- if and $v.elasticsearch.tls.caSecret (not (hasPrefix "https://" $v.elasticsearch.url)) }}
{{- fail "elasticsearch.tls.caSecret is set but elasticsearch.url is not https://" }}
{{- end }}
{{- if $v.services.console.enabled }}
{{- $url := include "socialdesk.publicUrl" . }}
{{- if and $prod (not $v.console.existingSecret) }}
{{- fail "console.existingSecret is required in production: a Secret holding the session signing key (key console.sessionSecretKey, 32+ random bytes)" }}
{{- end }}
{{- if and $prod (not $v.console.oidc.issuer) }}
{{- fail "console.oidc.issuer is required in production: the demo accounts exist only in development, so nobody could sign in" }}
{{- end }}
{{- if $v.console.oidc.issuer }}
{{- if not $v.console.oidc.clientId }}
{{- fail "console.oidc.clientId is required with console.oidc.issuer" }}
{{- end }}
{{- if not $v.console.oidc.existingSecret }}
{{- fail "console.oidc.existingSecret is required with console.oidc.issuer: the Secret holding the client secret (key console.oidc.clientSecretKey)" }}
{{- end }}
{{- if not $url }}
{{- fail "console.publicUrl is required with console.oidc.issuer (or enable ingress: it is then https://<ingress.consoleHost>)" }}
{{- end }}
{{- if and $prod (not (hasPrefix "https://" $url)) }}
{{- fail (printf "console.publicUrl must be https:// in production (got %q; with the Ingress, enable ingress.tls)" $url) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $prod (not $v.vault.existingSecret) }}
{{- fail "vault.existingSecret is required in production: the Secret holding the master key that wraps the per-author keys (key vault.keyKey, 32+ random characters)" }}
{{- end }}
{{- if $v.strimzi.enabled }}
{{- if not $v.strimzi.cluster }}
{{- fail "strimzi.cluster is required with strimzi.enabled: the name of the Strimzi Kafka cluster" }}
{{- end }}
{{- if gt (int $v.strimzi.minInsyncReplicas) (int $v.strimzi.topicReplicas) }}
{{- fail "strimzi.minInsyncReplicas is more than strimzi.topicReplicas: no write could succeed" }}
{{- end }}
{{- if $v.strimzi.user.create }}
{{- if and (eq $v.strimzi.user.authentication "scram-sha-512") (ne $v.kafka.sasl.existingSecret $v.strimzi.user.name) }}
{{- fail (printf "kafka.sasl.existingSecret must be %q, the Secret Strimzi writes for strimzi.user.name" $v.strimzi.user.name) }}
{{- end }}
{{- if and (eq $v.strimzi.user.authentication "tls") (ne $v.kafka.tls.clientSecret $v.strimzi.user.name) }}
{{- fail (printf "kafka.tls.clientSecret must be %q, the Secret Strimzi writes for strimzi.user.name" $v.strimzi.user.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $v.services.notify.enabled }}
{{- if and $prod (not (include "socialdesk.publicUrl" .)) }}
{{- fail "console.publicUrl is required in production with services.notify: its links and the control rooms' callbacks point at the console" }}
{{- end }}
{{- if and $prod (not $v.forceConfig.existingSecret) }}
{{- fail "forceConfig.existingSecret is required in production with services.notify: the Secret holding the variables the forces' secret_env name (webhook and control-room keys); notify refuses to start without them" }}
{{- end }}
{{- end }}
{{- if and $prod $v.services.ingest.enabled (not $v.ingest.existingSecret) }}
{{- fail "ingest.existingSecret is required in production: a Secret with the generic endpoints' API keys (key ingest.apiKeysKey) and the platforms' webhook secrets" }}
{{- end }}
{{- if and $prod (or $v.services.media.enabled $v.services.console.enabled) (not $v.objectStore.existingSecret) }}
{{- fail "objectStore.existingSecret is required in production: the Secret holding the object store's keys (objectStore.accessKeyIdKey, objectStore.secretAccessKeyKey) for media and console" }}
{{- end }}
{{- end }}

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
  secret: {secretName: {{ .Values.kafka.tls.caSecret | quote }}}
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
{{- if .Values.forceConfig.existingConfigMap }}
- {name: forces, mountPath: /app/config/forces, readOnly: true}
{{- end }}
{{- end }}

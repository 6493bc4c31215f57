#!/bin/sh
# Downloads the official community dashboards from grafana.com into $DEST when they are missing
# (run by the grafana-dashboards service of compose.yaml, in the curlimages/curl image):
#   10991  RabbitMQ-Overview            (RabbitMQ team)
#   11340  RabbitMQ-Quorum-Queues-Raft  (RabbitMQ team)
#     763  Redis Dashboard for Prometheus Redis Exporter 1.x
# Dashboards exported to grafana.com name their data source through an input such as
# ${DS_PROMETHEUS}, which file provisioning does not resolve: the script replaces every such
# input with the provisioned Prometheus uid ($DS_UID).
# A failed download (no internet access) is reported and skipped: Grafana starts anyway, with
# the fleet dashboard. Delete a file from the volume to fetch its latest revision again.
set -u
DEST=${DEST:-/dashboards}
DS_UID=${DS_UID:-prometheus}
mkdir -p "$DEST"

fetch() {
  id=$1
  file="$DEST/$2"
  if [ -s "$file" ]; then
    echo "dashboard $id: $file is present"
    return 0
  fi
  tmp="$file.download"
  if curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 10 --max-time 120 \
      "https://grafana.com/api/dashboards/$id/revisions/latest/download" -o "$tmp"; then
    sed -E 's/\$\{DS_[A-Za-z0-9_]+\}/'"$DS_UID"'/g' "$tmp" > "$file" && rm -f "$tmp"
    chmod 0644 "$file"
    echo "dashboard $id: downloaded to $file"
  else
    rm -f "$tmp"
    echo "dashboard $id: download failed (no internet access?); Grafana starts without it" >&2
  fi
}

fetch 10991 rabbitmq-overview.json
fetch 11340 rabbitmq-quorum-queues-raft.json
fetch 763 redis.json
exit 0

#!/usr/bin/env bash
# Renders one overlay: scripts/render.sh development|staging|production > hangar.yaml
#
# The kustomizations read config/fleets/*.yaml and config/production.yaml in place (the same files
# `npm start` uses), which lie outside k8s/, so kustomize needs --load-restrictor LoadRestrictionsNone;
# `kubectl apply -k` cannot pass it. Apply with: scripts/render.sh production | kubectl apply -f -
set -euo pipefail
cd "$(dirname "$0")/.."
overlay="${1:-}"
case "$overlay" in
  development | staging | production) ;;
  *) echo "usage: scripts/render.sh development|staging|production" >&2; exit 2 ;;
esac
exec kubectl kustomize --load-restrictor LoadRestrictionsNone "k8s/overlays/$overlay"

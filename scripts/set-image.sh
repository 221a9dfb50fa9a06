#!/usr/bin/env bash
# Points an overlay at an image: scripts/set-image.sh production registry.example.com/hangar:1.4.0
# (what `kustomize edit set image hangar=...` does, without needing the kustomize binary). It
# rewrites newName and newTag of the `- name: hangar` entry under images: in the overlay's
# kustomization.yaml; commit the change so the deployed version is in git.
set -euo pipefail
cd "$(dirname "$0")/.."
overlay="${1:-}" image="${2:-}"
case "$overlay" in
  development | staging | production) ;;
  *) echo "usage: scripts/set-image.sh development|staging|production IMAGE:TAG" >&2; exit 2 ;;
esac
if ! [[ "$image" =~ ^([a-z0-9][a-z0-9._/:-]*[a-z0-9]):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$ ]]; then
  echo "set-image.sh: expected IMAGE:TAG (for example registry.example.com/hangar:1.4.0), got \"$image\"" >&2
  exit 2
fi
name="${BASH_REMATCH[1]}" tag="${BASH_REMATCH[2]}"
file="${HANGAR_K8S_DIR:-k8s}/overlays/$overlay/kustomization.yaml"
grep -q '^  - name: hangar$' "$file" || { echo "set-image.sh: $file has no images entry named hangar" >&2; exit 1; }
# Within the hangar entry only: the lines up to the next list item.
sed -i -E "/^  - name: hangar\$/,/^  - |^[^ ]/{s|^(    newName: ).*|\\1$name|; s|^(    newTag: ).*|\\1\"$tag\"|}" "$file"
echo "$file: hangar -> $name:$tag"

#!/usr/bin/env bash
# Generates docs/ with tfplugindocs, offline: the provider schema comes from
# the locally built provider through tofu, not from a registry.
# Usage: docs.sh [generate|check]
set -euo pipefail
mode=${1:-generate}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/tofurc.sh bin "$work/tofurc"
mkdir -p "$work/schema"
cat > "$work/schema/main.tf" <<'TF'
terraform {
  required_providers {
    agentmesh = { source = "registry.opentofu.org/agentmesh/agentmesh" }
  }
}
TF
TF_CLI_CONFIG_FILE="$work/tofurc" bin/tofu -chdir="$work/schema" providers schema -json > "$work/schema.raw.json" 2> "$work/tofu.err" || { cat "$work/tofu.err" >&2; exit 1; }
# tfplugindocs looks a schema up by short name only.
sed 's#"registry.opentofu.org/agentmesh/agentmesh"#"agentmesh"#' "$work/schema.raw.json" > "$work/schema.json"
# tfplugindocs renders only inside the provider directory, so a check keeps
# a copy of docs/ to compare with and to put back.
mkdir -p "$work/before"
[[ -d docs ]] && cp -a docs "$work/before/"
bin/tfplugindocs generate --provider-dir "$root" --provider-name agentmesh --rendered-provider-name agentmesh \
  --providers-schema "$work/schema.json" > "$work/tfplugindocs.log" 2>&1 || { cat "$work/tfplugindocs.log" >&2; exit 1; }
if [[ "$mode" == check ]]; then
  if ! diff -ru "$work/before/docs" docs; then
    rm -rf docs && { [[ -d "$work/before/docs" ]] && cp -a "$work/before/docs" docs || true; }
    echo "docs/ is stale: run 'make docs' and commit the result" >&2
    exit 1
  fi
  echo "docs/ is current"
fi

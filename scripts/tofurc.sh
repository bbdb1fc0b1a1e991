#!/usr/bin/env bash
# Writes a CLI configuration (OpenTofu or Terraform) that serves the locally
# built provider through dev_overrides, under both CLIs' registry
# addresses, so nothing is fetched from a registry and source =
# "agentmesh/agentmesh" works on either.
# Usage: tofurc.sh <bin-dir> <out-file>
set -euo pipefail
bindir=$(cd "$1" && pwd)
cat > "$2" <<RC
provider_installation {
  dev_overrides {
    "registry.opentofu.org/agentmesh/agentmesh" = "$bindir"
    "registry.terraform.io/agentmesh/agentmesh" = "$bindir"
  }
  direct {}
}
RC

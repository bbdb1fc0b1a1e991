#!/usr/bin/env bash
# Writes an OpenTofu CLI configuration that serves the locally built
# provider through dev_overrides, so nothing is fetched from a registry.
# Usage: tofurc.sh <bin-dir> <out-file>
set -euo pipefail
bindir=$(cd "$1" && pwd)
cat > "$2" <<RC
provider_installation {
  dev_overrides {
    "registry.opentofu.org/agentmesh/agentmesh" = "$bindir"
  }
  direct {}
}
RC

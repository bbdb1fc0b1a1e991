#!/usr/bin/env bash
# Builds one pinned tool binary (ziti or tofu) from its own module under
# tools/<name> into bin/<name>. The binary is rebuilt only when the pinned
# module files change: a stamp next to it records their hash.
set -euo pipefail
name=$1
root=$(cd "$(dirname "$0")/.." && pwd)
mod="$root/tools/$name"
out="$root/bin/$name"
stamp="$root/bin/.$name.stamp"
case "$name" in
  ziti) pkg=github.com/openziti/ziti/ziti ;;
  tofu) pkg=github.com/opentofu/opentofu/cmd/tofu ;;
  tfplugindocs) pkg=github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs ;;
  golangci-lint) pkg=github.com/golangci/golangci-lint/v2/cmd/golangci-lint ;;
  *) echo "unknown tool: $name" >&2; exit 2 ;;
esac
want=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -d' ' -f1)
if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
mkdir -p "$root/bin"
echo ">> building $name from its pinned module in tools/$name (once; ziti and tofu take a few minutes)" >&2
cd "$mod"
GONOSUMDB=github.com/openziti GOFLAGS=-mod=mod go build -trimpath -o "$out.tmp" "$pkg"
mv "$out.tmp" "$out"
echo "$want" > "$stamp"

#!/usr/bin/env bash
# Builds one real gateway binary (llm-gateway, mcp-gateway, mcp-tools,
# mcp-filesystem) into bin/ with the shared build script, from the pinned
# source archive in shared/thirdparty, or zrok2 (mcp-gateway's data plane)
# and the HashiCorp Terraform CLI with shared/tools/build-zrok.sh and
# build-terraform.sh. A stamp next to the binary records
# the archive's and the script's hash, so it is rebuilt only when either
# changes. The shared folder is AGENTMESH_SHARED, or ../shared beside the
# repository.
set -euo pipefail
name=$1
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${AGENTMESH_SHARED:-}
if [[ -z "$shared" ]]; then
  for d in "$root/../shared" /work/shared; do
    if [[ -x "$d/tools/build-gateway.sh" ]]; then shared=$(cd "$d" && pwd); break; fi
  done
fi
script="$shared/tools/build-gateway.sh"
[[ -x "$script" ]] || { echo "build-shared: shared/tools/build-gateway.sh not found; set AGENTMESH_SHARED to the shared folder" >&2; exit 1; }
case "$name" in
  llm-gateway) archive="$shared/thirdparty/llm-gateway-v0.1.4.tar.gz" ;;
  mcp-gateway|mcp-tools|mcp-filesystem) archive="$shared/thirdparty/mcp-gateway-v0.1.3.tar.gz" ;;
  zrok2) script="$shared/tools/build-zrok.sh" archive="$script" ;; # its version pin is in the script
  terraform) script="$shared/tools/build-terraform.sh" archive="$script" ;;
  *) echo "build-shared: unknown gateway binary $name" >&2; exit 2 ;;
esac
out="$root/bin/$name"
stamp="$root/bin/.$name.stamp"
want=$(cat "$archive" "$script" | sha256sum | cut -d' ' -f1)
if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
mkdir -p "$root/bin"
echo ">> building the real $name from $(basename "$archive") (once, one to four minutes)" >&2
if [[ "$name" == terraform ]]; then
  # build-terraform.sh ends with `version -json | head -3` under pipefail:
  # when head exits first, terraform dies of SIGPIPE (141) after the build has
  # finished. That status alone is not a failed build; a binary that runs is.
  rc=0; "$script" "$out.tmp" >&2 || rc=$?
  if [[ $rc -eq 141 ]] && "$out.tmp" version >/dev/null 2>&1; then rc=0; fi
  [[ $rc -eq 0 ]] || { echo "build-shared: build-terraform.sh failed ($rc)" >&2; exit "$rc"; }
elif [[ "$name" == zrok2 ]]; then
  "$script" "$out.tmp" >&2
else
  "$script" "$name" "$out.tmp" >&2
fi
mv "$out.tmp" "$out"
echo "$want" > "$stamp"

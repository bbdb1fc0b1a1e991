#!/usr/bin/env bash
# make demo: start a local Ziti controller + edge router (persistent, in
# .demo/), apply examples/quickstart with the locally built provider
# through OpenTofu, and show what was created on the controller.
# make demo-down stops it and removes .demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
demo="$root/.demo"
ctrl_port=${AGENTMESH_DEMO_CTRL_PORT:-11280}
router_port=${AGENTMESH_DEMO_ROUTER_PORT:-13022}

if [[ "${1:-up}" == down ]]; then
  if [[ -f "$demo/ctrl.pid" ]]; then
    kill -- "-$(cat "$demo/ctrl.pid")" 2>/dev/null || kill "$(cat "$demo/ctrl.pid")" 2>/dev/null || true
  fi
  rm -rf "$demo"
  echo "demo stopped and removed"
  exit 0
fi

mkdir -p "$demo/home"
chmod 700 "$demo"
ca="$demo/ctrl/pki/root-ca/certs/root-ca.cert"
if [[ ! -f "$demo/admin-password" ]]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$demo/admin-password")
fi
password=$(cat "$demo/admin-password")

running=false
if [[ -f "$demo/ctrl.pid" ]] && kill -0 "$(cat "$demo/ctrl.pid")" 2>/dev/null; then running=true; fi
if ! $running; then
  echo ">> starting a local Ziti controller and edge router on 127.0.0.1:$ctrl_port (data in .demo/ctrl)"
  # setsid gives the quickstart its own process group, so demo-down can
  # stop the controller and router together.
  HOME="$demo/home" setsid bin/ziti edge quickstart --home "$demo/ctrl" \
    --ctrl-address 127.0.0.1 --ctrl-port "$ctrl_port" \
    --router-address 127.0.0.1 --router-port "$router_port" \
    -u admin -p "$password" > "$demo/quickstart.log" 2>&1 < /dev/null &
  echo $! > "$demo/ctrl.pid"
fi
printf ">> waiting for the controller"
for _ in $(seq 1 120); do
  if [[ -f "$ca" ]] && curl -sf --cacert "$ca" "https://127.0.0.1:$ctrl_port/edge/management/v1/version" > /dev/null \
     && grep -q "all-routers-all-services" "$demo/quickstart.log" "$demo"/quickstart.log.* 2>/dev/null; then
    ready=1; break
  fi
  if ! kill -0 "$(cat "$demo/ctrl.pid")" 2>/dev/null; then
    echo; echo "the controller exited; see $demo/quickstart.log" >&2; tail -20 "$demo/quickstart.log" >&2; exit 1
  fi
  printf "."; sleep 1
done
echo
[[ "${ready:-}" == 1 ]] || { echo "controller not ready after 120 s; see $demo/quickstart.log" >&2; exit 1; }
# A restarted demo appends to a fresh log; remember that setup was done.
cp -f "$demo/quickstart.log" "$demo/quickstart.log.1" 2>/dev/null || true

scripts/tofurc.sh bin "$demo/tofurc"
mkdir -p "$demo/quickstart"
cp examples/quickstart/*.tf "$demo/quickstart/"
export TF_CLI_CONFIG_FILE="$demo/tofurc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export AGENTMESH_ENDPOINT="https://127.0.0.1:$ctrl_port" AGENTMESH_USERNAME=admin AGENTMESH_PASSWORD="$password" AGENTMESH_CA_FILE="$ca"

echo ">> tofu apply examples/quickstart (provider served from bin/ through dev_overrides)"
if ! bin/tofu -chdir="$demo/quickstart" apply -auto-approve -no-color -compact-warnings > "$demo/apply.txt" 2>&1; then
  cat "$demo/apply.txt" >&2
  exit 1
fi
grep -v "^Warnings:\|Provider development overrides\|^To see the full warning\|^$" "$demo/apply.txt"
echo
echo ">> a second plan must change nothing (no drift; only the check block re-reads access):"
bin/tofu -chdir="$demo/quickstart" plan -no-color > "$demo/plan.txt" 2>&1 || { cat "$demo/plan.txt"; exit 1; }
if grep -q "0 to add, 0 to change, 0 to destroy\|No changes" "$demo/plan.txt"; then
  echo "   0 to add, 0 to change, 0 to destroy."
else
  cat "$demo/plan.txt"; exit 1
fi
echo
echo ">> what the controller now holds:"
HOME="$demo/home" bin/ziti edge login "127.0.0.1:$ctrl_port" -u admin -p "$password" --ca "$ca" > /dev/null
HOME="$demo/home" bin/ziti edge list identities 'tags.agentmesh_managed_by = "agentmesh"'
HOME="$demo/home" bin/ziti edge list service-policies 'tags.agentmesh_managed_by = "agentmesh"'
echo
echo ">> agentmesh reconcile --dry-run (the standalone reconciler agrees nothing needs repair):"
bin/agentmesh reconcile --dry-run 2>/dev/null
echo
cat <<MSG
Done. Try:
  TF_CLI_CONFIG_FILE=$demo/tofurc bin/tofu -chdir=.demo/quickstart output identities
  (AGENTMESH_* settings: see scripts/demo.sh)
Stop and clean up with: make demo-down
MSG

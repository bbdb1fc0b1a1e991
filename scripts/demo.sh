#!/usr/bin/env bash
# make demo: start a local Ziti controller + edge router (persistent, in
# .demo/), apply examples/quickstart with the locally built provider
# through OpenTofu, and show what was created on the controller; then the
# gateway example, the audit trail kept meanwhile, and the MCP example: a
# local zrok, the real mcp-gateway on a closed share and the MCP front.
# make demo-down stops it and removes .demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
demo="$root/.demo"
ctrl_port=${AGENTMESH_DEMO_CTRL_PORT:-11280}
router_port=${AGENTMESH_DEMO_ROUTER_PORT:-13022}

model_port=${AGENTMESH_DEMO_MODEL_PORT:-11481}
gateway_port=${AGENTMESH_DEMO_GATEWAY_PORT:-11480}
proxy_port=${AGENTMESH_DEMO_PROXY_PORT:-11482}
zrok_port=${AGENTMESH_DEMO_ZROK_PORT:-11483}

# enroll turns each <who>.jwt, written (0600) by an example's provisioner
# from agentmesh_enrollment_token (the token is in no state file), into
# <who>.json, once.
enroll() {
  local who
  for who in "$@"; do
    [[ -f "$demo/$who.json" ]] && continue
    [[ -s "$demo/$who.jwt" ]] || { echo "no enrollment token for $who in $demo" >&2; exit 1; }
    HOME="$demo/home" bin/ziti edge enroll -j "$demo/$who.jwt" -o "$demo/$who.json" > "$demo/enroll-$who.log" 2>&1 \
      || { cat "$demo/enroll-$who.log" >&2; exit 1; }
    rm -f "$demo/$who.jwt"
  done
}

# the demo's MCP share: a zrok share token ([a-z0-9-], 3 to 32 characters).
share=agentmeshdemotools

# stop ends a background process started with setsid, and its group.
stop() {
  [[ -f "$1" ]] || return 0
  kill -- "-$(cat "$1")" 2>/dev/null || kill "$(cat "$1")" 2>/dev/null || true
  rm -f "$1"
}

if [[ "${1:-up}" == down ]]; then
  for p in audit proxy agent mcp-agent model zrok ctrl; do stop "$demo/$p.pid"; done
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

echo ">> agentmesh audit follow --dir .demo/audit (the trail of dials, LLM requests and access changes)"
stop "$demo/audit.pid"
setsid bin/agentmesh audit follow --dir "$demo/audit" --pull-interval 500ms > "$demo/audit.log" 2>&1 < /dev/null &
echo $! > "$demo/audit.pid"
for _ in $(seq 1 60); do
  # The follower logs once its event subscription is in place.
  [[ $(grep -c "streaming controller events" "$demo/audit.log" || true) -gt 0 ]] && break
  sleep 0.5
done
grep -q "streaming controller events" "$demo/audit.log" || { echo "audit follow did not subscribe; see $demo/audit.log" >&2; cat "$demo/audit.log" >&2; exit 1; }
sleep 1 # its first observation of the network

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
echo ">> gateways: an LLM gateway with no reachable port (examples/gateway)"
echo "   the real openziti llm-gateway v0.1.4 (bin/llm-gateway, built by make gateways) in front of a local model (acctest/model)"
mkdir -p bin/demo "$demo/gateway"
go build -o bin/demo/fake-model ./acctest/model/cmd/fake-model
cp examples/gateway/*.tf "$demo/gateway/"
for p in proxy agent model; do stop "$demo/$p.pid"; done
setsid bin/demo/fake-model "127.0.0.1:$model_port" > "$demo/model.log" 2>&1 < /dev/null &
echo $! > "$demo/model.pid"
gw_vars=(-var "gateway_listen=127.0.0.1:$gateway_port" -var "local_model_url=http://127.0.0.1:$model_port" -var "enrollment_dir=$demo")
tf() { bin/tofu -chdir="$demo/gateway" "$@"; }
echo ">> phase 1: tofu apply registers the gateway and makes its dark control service"
tf apply -auto-approve -no-color -compact-warnings "${gw_vars[@]}" > "$demo/gateway-apply1.txt" 2>&1 || { cat "$demo/gateway-apply1.txt" >&2; exit 1; }
grep "Apply complete" "$demo/gateway-apply1.txt" | sed 's/^/   /'
enroll gateway analyst
cat > "$demo/llm-agent.yaml" <<YAML
kind: llm
identity_file: $demo/gateway.json
control_service: $(tf output -raw control_service)
state_dir: $demo/gateway-state
command: [$root/bin/llm-gateway, run, "{config}"]
listen: 127.0.0.1:$gateway_port
YAML
echo ">> agentmesh gateway-agent --config .demo/llm-agent.yaml (beside llm-gateway, with the gateway's own identity)"
setsid bin/agentmesh gateway-agent --config "$demo/llm-agent.yaml" > "$demo/agent.log" 2>&1 < /dev/null &
echo $! > "$demo/agent.pid"
echo ">> phase 2: tofu apply -var with_routes=true (returns once the running gateway reports the route applied)"
tf apply -auto-approve -no-color -compact-warnings "${gw_vars[@]}" -var with_routes=true > "$demo/gateway-apply2.txt" 2>&1 \
  || { cat "$demo/gateway-apply2.txt" "$demo/agent.log" >&2; exit 1; }
grep "Apply complete\|route_applied_generation" "$demo/gateway-apply2.txt" | sed 's/^/   /'
echo "   the agent's state on the gateway host (rendered config, virtual keys; all 0600):"
ls -l "$demo/gateway-state" | sed 's/^/     /'
svc=$(tf output -raw analyst_service)
echo ">> the analyst dials its own dark service $svc (ziti tunnel proxy on 127.0.0.1:$proxy_port)"
HOME="$demo/home" setsid bin/ziti tunnel proxy "$svc:$proxy_port" -i "$demo/analyst.json" > "$demo/proxy.log" 2>&1 < /dev/null &
echo $! > "$demo/proxy.pid"
ask() {
  curl -s -m 10 -w ' (HTTP %{http_code})\n' "http://127.0.0.1:$proxy_port/v1/chat/completions" \
    -H 'Content-Type: application/json' -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"
}
for _ in $(seq 1 60); do
  curl -sf -m 5 -o /dev/null "http://127.0.0.1:$proxy_port/v1/models" && break
  sleep 0.5
done
echo "   llama3, its route:"
ask llama3 | sed 's/^/     /'
echo "   gpt-4o, not its route:"
ask gpt-4o | sed 's/^/     /'
echo "   llama3 streamed (metered from the deltas; the gateway drops usage from streams):"
curl -s -m 10 -N "http://127.0.0.1:$proxy_port/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"llama3","stream":true,"messages":[{"role":"user","content":"hello"}]}' | grep -c '^data: {' | sed 's/^/     chunks: /'
echo "   the gateway's own /metrics, not governed by the front:"
curl -s -m 10 -w ' (HTTP %{http_code})\n' "http://127.0.0.1:$proxy_port/metrics" | sed 's/^/     /'
echo ">> what the agent metered (data source agentmesh_gateway_usage):"
tf apply -refresh-only -auto-approve -no-color "${gw_vars[@]}" -var with_routes=true > "$demo/gateway-usage.txt" 2>&1 \
  || { cat "$demo/gateway-usage.txt" >&2; exit 1; }
tf output -no-color usage | sed 's/^/   /'

echo
echo ">> the audit trail (agentmesh audit show --dir .demo/audit), from the network's own facts:"
sleep 2 # the follower reads the agent's request journal every half second
bin/agentmesh audit show --dir "$demo/audit" | grep -E "demo-analyst|trail.gap" | cut -c1-220 | sed 's/^/   /' | tail -12
echo ">> agentmesh audit why --identity demo-analyst --service demo-llm (which grant let it in):"
bin/agentmesh audit why --dir "$demo/audit" --identity demo-analyst --service demo-llm | sed 's/^/   /'

echo
echo ">> MCP: mcp-gateway serves only on a zrok share, so a local zrok runs on the demo controller (.demo/zrok)"
zdir="$demo/zrok"
mkdir -p "$zdir/home" "$zdir/admin" "$demo/mcp"
chmod 700 "$zdir"
stop "$demo/mcp-agent.pid"
stop "$demo/zrok.pid"
if [[ ! -f "$zdir/admin-secret" ]]; then
  (umask 077; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$zdir/admin-secret")
  (umask 077; cat > "$zdir/ctrl.yml" <<YAML
v: 4
admin:
  secrets: [ "$(cat "$zdir/admin-secret")" ]
endpoint:
  host: 127.0.0.1
  port: $zrok_port
invites:
  invites_open: false
store:
  type: sqlite3
  path: $zdir/zrok.db
ziti:
  api_endpoint: https://127.0.0.1:$ctrl_port
  username: admin
  password: "$password"
YAML
)
  HOME="$zdir/admin" bin/zrok2 admin bootstrap "$zdir/ctrl.yml" > "$zdir/bootstrap.log" 2>&1 || { cat "$zdir/bootstrap.log" >&2; exit 1; }
fi
zrok_env=(HOME="$zdir/home" ZROK2_API_ENDPOINT="http://127.0.0.1:$zrok_port")
HOME="$zdir/admin" setsid bin/zrok2 controller "$zdir/ctrl.yml" > "$zdir/controller.log" 2>&1 < /dev/null &
echo $! > "$demo/zrok.pid"
for _ in $(seq 1 60); do curl -sf -o /dev/null "http://127.0.0.1:$zrok_port/api/v2/versions" && break; sleep 0.5; done
curl -sf -o /dev/null "http://127.0.0.1:$zrok_port/api/v2/versions" || { echo "the zrok controller did not start; see $zdir/controller.log" >&2; exit 1; }
if [[ ! -f "$zdir/home/.zrok2/environment.json" ]]; then
  token=$(HOME="$zdir/admin" ZROK2_ADMIN_TOKEN="$(cat "$zdir/admin-secret")" ZROK2_API_ENDPOINT="http://127.0.0.1:$zrok_port" \
    bin/zrok2 admin create account gateway@agentmesh.demo "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" | tail -1)
  env "${zrok_env[@]}" bin/zrok2 enable "$token" --headless > "$zdir/enable.log" 2>&1 || { cat "$zdir/enable.log" >&2; exit 1; }
  echo "   reserving share $share in closed permission mode: only the gateway host's zrok account may reach it"
  env "${zrok_env[@]}" bin/zrok2 create share --share-token "$share" --backend-mode proxy > "$zdir/share.log" 2>&1 || { cat "$zdir/share.log" >&2; exit 1; }
fi
go build -o bin/demo/mcp-notes ./acctest/mcpnotes/cmd/mcp-notes
go build -o bin/demo/mcp-call ./acctest/mcpcall/cmd/mcp-call
cp examples/mcp-gateway/*.tf "$demo/mcp/"
mcp_vars=(-var "notes_command=$root/bin/demo/mcp-notes" -var "enrollment_dir=$demo")
export TF_VAR_share_token="$share"
mtf() { bin/tofu -chdir="$demo/mcp" "$@"; }
echo ">> phase 1: tofu apply examples/mcp-gateway registers the mcp gateway"
mtf apply -auto-approve -no-color -compact-warnings "${mcp_vars[@]}" > "$demo/mcp-apply1.txt" 2>&1 || { cat "$demo/mcp-apply1.txt" >&2; exit 1; }
grep "Apply complete" "$demo/mcp-apply1.txt" | sed 's/^/   /'
enroll mcp-gateway researcher outsider
cat > "$demo/mcp-agent.yaml" <<YAML
kind: mcp
identity_file: $demo/mcp-gateway.json
control_service: $(mtf output -raw control_service)
state_dir: $demo/mcp-state
command: [$root/bin/mcp-gateway, run, "{config}"]
start_timeout: 60s
zrok: $root/bin/zrok2
env:
  HOME: $zdir/home
  ZROK2_API_ENDPOINT: http://127.0.0.1:$zrok_port
YAML
echo ">> agentmesh gateway-agent --config .demo/mcp-agent.yaml (beside mcp-gateway; serves the MCP front through zrok2 access private)"
setsid bin/agentmesh gateway-agent --config "$demo/mcp-agent.yaml" > "$demo/mcp-agent.log" 2>&1 < /dev/null &
echo $! > "$demo/mcp-agent.pid"
echo ">> phase 2: tofu apply -var with_routes=true (the share token and the notes route reach the running gateway)"
mtf apply -auto-approve -no-color -compact-warnings "${mcp_vars[@]}" -var with_routes=true > "$demo/mcp-apply2.txt" 2>&1 \
  || { cat "$demo/mcp-apply2.txt" "$demo/mcp-agent.log" >&2; exit 1; }
grep "Apply complete" "$demo/mcp-apply2.txt" | sed 's/^/   /'
msvc=$(mtf output -raw researcher_service)
echo ">> the researcher, over its own dark service $msvc: lists its view, reads a note, and tries to write one"
bin/demo/mcp-call -identity "$demo/researcher.json" -service "$msvc" -call notes_read_note -call notes_write_note | sed 's/^/   /'
echo ">> the outsider, in no workgroup the route serves, tries the researcher's service:"
rc=0; out=$(bin/demo/mcp-call -identity "$demo/outsider.json" -service "$msvc" 2>&1) || rc=$?
echo "$out" | sed 's/^/   /'
[[ $rc == 3 ]] || { echo "the outsider was not refused (rc=$rc)" >&2; exit 1; }

echo
cat <<MSG
Done. Try:
  TF_CLI_CONFIG_FILE=$demo/tofurc bin/tofu -chdir=.demo/quickstart output identities
  (AGENTMESH_* settings: see scripts/demo.sh)
  bin/agentmesh audit activity --dir .demo/audit --identity demo-analyst   (everything it did)
  bin/demo/mcp-call -identity .demo/researcher.json -service $msvc -call notes_list_notes   (MCP, over Ziti)
  curl http://127.0.0.1:$proxy_port/v1/chat/completions -d '{"model":"llama3","messages":[{"role":"user","content":"hi"}]}'   (the analyst, over Ziti)
Stop and clean up with: make demo-down
MSG

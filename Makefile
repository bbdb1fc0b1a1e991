# agentmesh: `make demo` and `make test` work from a clean clone.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PROVIDER := $(BIN)/terraform-provider-agentmesh
N     ?= 200
# VERSION is injected into the provider and the CLI (agentmesh version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
TRIALS ?= 3

.PHONY: lint all tools gateways build release test test-terraform unit acc fuzz vet fmt-check docs docs-check demo demo-down bench reliability clean

all: build

## tools: build the pinned ziti, tofu, tfplugindocs, golangci-lint once (rebuilt only when tools/*/go.mod changes), and Terraform with the shared script
tools:
	@scripts/build-tool.sh ziti
	@scripts/build-tool.sh tofu
	@scripts/build-tool.sh tfplugindocs
	@scripts/build-tool.sh golangci-lint
	@scripts/build-shared.sh terraform

## gateways: build the real llm-gateway and mcp-gateway (and mcp-tools, mcp-filesystem, zrok2) from shared/thirdparty once (rebuilt when the archive changes)
gateways:
	@scripts/build-shared.sh llm-gateway
	@scripts/build-shared.sh mcp-gateway
	@scripts/build-shared.sh mcp-filesystem
	@scripts/build-shared.sh mcp-tools
	@scripts/build-shared.sh zrok2

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(PROVIDER) .
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/agentmesh ./cmd/agentmesh

## release: the provider and agentmesh for linux, darwin and windows on amd64 and arm64 in dist/: registry-named zips, SHA256SUMS, the registry manifest, release notes from CHANGELOG.md and a filesystem_mirror; checked after writing (a snapshot unless HEAD carries the CHANGELOG version's tag)
release:
	$(GO) run ./internal/release/cmd/release -out dist

## test: everything CI runs: static checks, unit + acceptance tests against a real controller, fuzz smoke, docs freshness
test: tools gateways build vet fmt-check lint
	$(GO) test ./... -count=1 -timeout 30m
	$(MAKE) test-terraform
	$(MAKE) release
	$(MAKE) fuzz
	$(MAKE) docs-check

## test-terraform: the identity, governance and example acceptance tests again, with HashiCorp Terraform instead of OpenTofu
test-terraform: tools gateways build
	AGENTMESH_TEST_CLI=terraform $(GO) test ./provider/ -run 'TestAccIdentity|TestAccGovernance' -count=1 -timeout 20m
	AGENTMESH_TEST_CLI=terraform $(GO) test ./acctest/ -run 'TestExample' -count=1 -timeout 20m

vet:
	$(GO) vet ./...

## lint: golangci-lint v2 (pinned in tools/golangci-lint) with gosec, errorlint, bodyclose
lint:
	$(BIN)/golangci-lint run ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fuzz:
	$(GO) test ./reconciler/intent/ -run '^$$' -fuzz FuzzValidateName -fuzztime 20000x
	$(GO) test ./reconciler/derive/ -run '^$$' -fuzz FuzzDerive -fuzztime 30000x
	$(GO) test ./gateways/ -run '^$$' -fuzz FuzzRenderLLM -fuzztime 20000x
	$(GO) test ./gateways/ -run '^$$' -fuzz FuzzRenderMCP -fuzztime 20000x

docs: tools build
	scripts/docs.sh generate

docs-check: tools build
	scripts/docs.sh check

demo: tools gateways build
	scripts/demo.sh up

demo-down:
	scripts/demo.sh down

## bench: tofu apply of N identities vs direct API creates, no-op plan requests; gateway route-change latency and proxy overhead; endpoint-guard round trip and throughput against a direct connection; audit follower events per second and heap at 100,000 records; MCP tools/call through the front against mcp-tools straight to the share (p50, p99, ratios)
bench: tools gateways build
	$(GO) run ./acctest/bench -n $(N)
	$(GO) run ./acctest/gatewaybench
	$(GO) test ./guard/ -run '^$$' -bench . -benchtime 20000x
	$(GO) run ./acctest/guardbench
	$(GO) test ./audit/follow/ -run '^$$' -bench FollowEvents -benchtime 100000x
	$(GO) run ./acctest/mcpbench

## reliability: the fault suite with 3 trials (seeds) per scenario; prints its table (make test runs 1 trial)
reliability: tools gateways build
	$(GO) run ./acctest/reliability/cmd -trials $(TRIALS)

clean:
	rm -rf $(BIN) .demo dist

package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/openziti/sdk-golang/ziti"
	"gopkg.in/yaml.v3"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/gateways/mcpfront"
)

// Config is the gateway agent's configuration file.
type Config struct {
	// Kind is llm or mcp, as on the agentmesh_gateway resource.
	Kind string `yaml:"kind"`
	// IdentityFile is the gateway's enrolled Ziti identity (JSON).
	IdentityFile string `yaml:"identity_file"`
	// ControlService is the agentmesh_gateway resource's control_service.
	ControlService string `yaml:"control_service"`
	// StateDir holds the rendered config, the virtual keys and delivered
	// secrets, all mode 0600; it is created with mode 0700.
	StateDir string `yaml:"state_dir"`
	// Command runs the gateway; {config} is replaced by the path of the
	// rendered config file, for example [llm-gateway, run, "{config}"].
	Command []string `yaml:"command"`
	// Listen is the llm gateway's loopback host:port, as the resource's
	// listen: the front proxies to it and its /health is checked there.
	Listen string `yaml:"listen"`
	// Health is an optional host:port answering GET /health for an mcp
	// gateway, checked besides its own signal. mcp-gateway has no TCP
	// listener: it counts as started once it logs that it serves its
	// share, which it does only after discovering its backends' tools.
	Health string `yaml:"health"`
	// StartTimeout bounds a gateway's start: an mcp gateway that has not
	// said it serves by then failed (default: each backend's connect
	// timeout, which mcp-gateway spends one backend after another, plus
	// 30s); an llm gateway must answer /health by then (default 15s).
	StartTimeout time.Duration `yaml:"start_timeout"`
	// StartGrace is no longer read: a gateway counts as started when it
	// says so. It is accepted so older agent configs still load.
	StartGrace time.Duration `yaml:"start_grace"`
	// Zrok is the zrok2 binary (a path, or a name on PATH) through which
	// an mcp agent reaches its gateway's share and serves the MCP front:
	// each audience identity's own dark service, showing it only the
	// tools its routes allow. Without it the agent serves no front, and
	// anyone holding the share token reaches every tool.
	Zrok string `yaml:"zrok"`
	// Env adds to the gateway process's environment, for example the HOME
	// whose .zrok2 holds mcp-gateway's enabled zrok environment.
	Env map[string]string `yaml:"env"`
}

// LoadConfig reads and checks an agent configuration; unknown keys are
// errors, so a typo cannot silently change what runs.
func LoadConfig(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if c.Kind != gateways.KindLLM && c.Kind != gateways.KindMCP {
		errs = append(errs, fmt.Errorf("kind %q must be llm or mcp", c.Kind))
	}
	for name, v := range map[string]string{"identity_file": c.IdentityFile, "control_service": c.ControlService, "state_dir": c.StateDir} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	if len(c.Command) == 0 || !strings.Contains(strings.Join(c.Command, " "), "{config}") {
		errs = append(errs, errors.New("command must run the gateway and pass it {config}, for example [llm-gateway, run, \"{config}\"]"))
	}
	if c.Zrok != "" && c.Kind != gateways.KindMCP {
		errs = append(errs, errors.New("zrok is for mcp gateways only"))
	}
	if c.Kind == gateways.KindLLM {
		if host, _, err := net.SplitHostPort(c.Listen); err != nil || !isLoopback(host) {
			errs = append(errs, fmt.Errorf("listen %q must be the gateway's loopback host:port", c.Listen))
		}
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run is the gateway agent: it binds the control service with the
// gateway's identity, applies pushed tables to the supervised gateway and,
// for llm gateways, serves each audience identity's data plane, until ctx
// ends. It stops the gateway on the way out.
func Run(ctx context.Context, c *Config, log *slog.Logger) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return err
	}
	if a := c.agent(nil, log); a.Access != nil {
		// Before the identity is opened: nothing could be served.
		if err := ZrokEnvironment(a.ZrokHome); err != nil {
			return fmt.Errorf("this gateway host cannot serve MCP: %w", err)
		}
	}
	zcfg, err := ziti.NewConfigFromFile(c.IdentityFile)
	if err != nil {
		return fmt.Errorf("loading the gateway identity %s: %w", c.IdentityFile, err)
	}
	z, err := ziti.NewContext(zcfg)
	if err != nil {
		return fmt.Errorf("opening the gateway identity: %w", err)
	}
	defer z.Close()
	if c.StartGrace != 0 {
		log.WarnContext(ctx, "start_grace is no longer used: a gateway counts as started when it says it serves; start_timeout bounds the wait")
	}
	a := c.agent(z, log)
	if err := a.KeepFacts(log); err != nil {
		return err
	}
	defer a.Stop()
	if err := a.Resume(ctx, 500*time.Millisecond); err != nil {
		// Not fatal: the reconciler's next push brings the gateway up.
		log.WarnContext(ctx, "could not resume the last applied table", "error", err.Error())
	}
	log.InfoContext(ctx, "binding the control service", "service", c.ControlService)
	ln, err := Listen(ctx, z, c.ControlService, 365*24*time.Hour)
	if err != nil {
		return fmt.Errorf("binding control service %s: %w", c.ControlService, err)
	}
	log.InfoContext(ctx, "waiting for route tables", "service", c.ControlService)
	h := a.Handlers()
	h.Apply = func(ctx context.Context, t *gateways.Table) gateways.Report {
		if err := c.accepts(t); err != nil {
			return gateways.Report{Generation: t.Generation, Status: "rejected", Error: err.Error()}
		}
		r := a.Apply(ctx, t)
		log.InfoContext(ctx, "route table", "gateway", t.Gateway, "generation", t.Generation, "status", r.Status, "error", r.Error, "warnings", r.Warnings)
		return r
	}
	return control.ServeWith(ctx, ln, h)
}

// agent wires the supervisor (and for llm the front) from the config.
func (c *Config) agent(z ziti.Context, log *slog.Logger) *Agent {
	file := filepath.Join(c.StateDir, c.Kind+"-gateway.yaml")
	cmd := make([]string, len(c.Command))
	for i, arg := range c.Command {
		cmd[i] = strings.ReplaceAll(arg, "{config}", file)
	}
	sup := &Supervisor{Command: cmd, ConfigFile: file, StopSignal: StopSignalFor(c.Kind), Log: log, StartTimeout: c.StartTimeout}
	if len(c.Env) > 0 {
		sup.Env = os.Environ()
		for _, k := range slices.Sorted(maps.Keys(c.Env)) {
			sup.Env = append(sup.Env, k+"="+c.Env[k])
		}
	}
	switch c.Kind {
	case gateways.KindLLM:
		sup.Health = HTTPHealth(c.Listen)
	default:
		sup.Ready = ReadyMCP
		if c.Health != "" {
			sup.Health = HTTPHealth(c.Health)
		}
	}
	a := &Agent{Ziti: z, Supervisor: sup, StateDir: c.StateDir}
	if c.Kind == gateways.KindLLM {
		a.Front = llmfront.New(&url.URL{Scheme: "http", Host: c.Listen}, log)
	}
	if c.Kind == gateways.KindMCP && c.Zrok != "" {
		a.Relay = &mcpfront.Relay{OnBadGateway: a.renewAccess}
		a.Access = &Access{Command: c.Zrok, Env: sup.Env, Log: log, OnAddr: func(addr string) {
			a.Relay.SetUpstream(&url.URL{Scheme: "http", Host: addr, Path: "/sse"})
		}}
		sup.OnRestart = a.refront
		a.ZrokHome = c.Env["HOME"]
		if a.ZrokHome == "" {
			a.ZrokHome, _ = os.UserHomeDir()
		}
	}
	return a
}

// accepts refuses a table meant for another kind of gateway or another
// listener than the one this agent runs: the resource and the agent's
// config must agree on where the gateway listens.
func (c *Config) accepts(t *gateways.Table) error {
	if t.Kind != c.Kind {
		return fmt.Errorf("this agent runs an %s gateway, the table is for %s", c.Kind, t.Kind)
	}
	if t.Kind == gateways.KindLLM && t.LLM != nil && t.LLM.Listen != c.Listen {
		return fmt.Errorf("the gateway's listen is %s in agentmesh_gateway but %s in this agent's config; make them agree", t.LLM.Listen, c.Listen)
	}
	return nil
}

// Package acctest is the test harness: a real Ziti controller and edge
// router started with `ziti edge quickstart`, the OpenTofu CLI, and the
// provider factories for terraform-plugin-testing. Nothing here is a mock.
package acctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/edge_router"
	"github.com/openziti/edge-api/rest_management_api_client/service_edge_router_policy"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// Controller is a running quickstart: one controller and one edge router.
type Controller struct {
	// Origin is https://127.0.0.1:<port>; ManagementURL adds the API path.
	Origin        string
	ManagementURL string
	Username      string
	Password      string
	CAPEM         []byte
	CAFile        string
	Home          string
	LogFile       string
	CtrlPort      int
	RouterPort    int

	cmd      *exec.Cmd
	done     chan error
	tempHome bool
}

// StartOptions tunes Start.
type StartOptions struct {
	// Home keeps the controller's data across restarts; empty means a
	// fresh temporary directory removed by Stop.
	Home string
	// ReadyTimeout bounds the wait for the API and the router.
	ReadyTimeout time.Duration
}

// Start runs `ziti edge quickstart` on free loopback ports and waits until
// the management API answers, the admin can log in, the quickstart's
// default policies exist and the edge router is online.
func Start(ctx context.Context, opts StartOptions) (*Controller, error) {
	ziti, err := Binary("ziti")
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 120 * time.Second
	}
	// Ports are picked free and bound a moment later by the quickstart;
	// another process (or an outgoing connection) may take one between.
	// A start that failed on a taken port is tried again on new ports.
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, ziti, opts)
		if err == nil {
			return c, nil
		}
		if c == nil || attempt == startsOnPortTaken || !c.tempHome || !portTaken(c.LogFile) {
			return nil, err // the home stays, with the log the error names
		}
		_ = os.RemoveAll(c.Home)
	}
}

func start(ctx context.Context, ziti string, opts StartOptions) (*Controller, error) {
	home, tempHome := opts.Home, opts.Home == ""
	var err error
	if tempHome {
		if home, err = os.MkdirTemp("", "agentmesh-ctrl-"); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		Username:   "admin",
		Password:   randomSecret(),
		Home:       home,
		tempHome:   tempHome,
		LogFile:    filepath.Join(home, "quickstart.log"),
		CtrlPort:   ports[0],
		RouterPort: ports[1],
		done:       make(chan error, 1),
	}
	c.Origin = fmt.Sprintf("https://127.0.0.1:%d", c.CtrlPort)
	c.ManagementURL = c.Origin + "/edge/management/v1"
	if err := c.spawn(ziti); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, opts.ReadyTimeout); err != nil {
		c.kill()
		return c, err
	}
	return c, nil
}

// startsOnPortTaken is how often a server that lost a port picked free is
// started on new ports before its failure stands.
const startsOnPortTaken = 3

// portTaken says whether a server's log shows it could not bind its port.
func portTaken(log string) bool {
	b, err := os.ReadFile(log)
	return err == nil && bytes.Contains(b, []byte("address already in use"))
}

func (c *Controller) spawn(ziti string) error {
	logf, err := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(ziti, "edge", "quickstart",
		"--home", c.Home,
		"--ctrl-address", "127.0.0.1", "--ctrl-port", strconv.Itoa(c.CtrlPort),
		"--router-address", "127.0.0.1", "--router-port", strconv.Itoa(c.RouterPort),
		"-u", c.Username, "-p", c.Password)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The CLI writes its login profile under $HOME; keep it in the
	// controller's home, not the user's.
	cmd.Env = append(os.Environ(), "HOME="+c.Home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", ziti, err)
	}
	c.cmd = cmd
	c.done = make(chan error, 1)
	go func() { c.done <- cmd.Wait(); logf.Close() }()
	return nil
}

func (c *Controller) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	caFile := filepath.Join(c.Home, "pki", "root-ca", "certs", "root-ca.cert")
	var last error
	for {
		select {
		case err := <-c.done:
			return fmt.Errorf("ziti edge quickstart exited before it was ready (%w); see %s", err, c.LogFile)
		case <-ctx.Done():
			return fmt.Errorf("controller not ready after %s: %w; see %s", timeout, last, c.LogFile)
		case <-time.After(250 * time.Millisecond):
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			last = err
			continue
		}
		c.CAPEM, c.CAFile = pem, caFile
		if last = c.probe(ctx); last == nil {
			return nil
		}
	}
}

// probe succeeds once the quickstart has finished its setup.
func (c *Controller) probe(ctx context.Context) error {
	cl, err := c.Client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	name := `name = "all-routers-all-services"`
	pol, err := cl.API.ServiceEdgeRouterPolicy.ListServiceEdgeRouterPolicies(
		service_edge_router_policy.NewListServiceEdgeRouterPoliciesParamsWithContext(ctx).WithFilter(&name), nil)
	if err != nil {
		return err
	}
	if len(pol.Payload.Data) == 0 {
		return errors.New("quickstart policies not created yet")
	}
	ers, err := cl.API.EdgeRouter.ListEdgeRouters(edge_router.NewListEdgeRoutersParamsWithContext(ctx), nil)
	if err != nil {
		return err
	}
	for _, er := range ers.Payload.Data {
		if er.IsOnline != nil && *er.IsOnline {
			return nil
		}
	}
	return errors.New("edge router not online yet")
}

// Client returns a new admin client of the controller, TLS-verified
// against the quickstart's root CA.
func (c *Controller) Client(ctx context.Context) (*controller.Client, error) {
	return controller.New(ctx, controller.Config{
		URL: c.ManagementURL, Username: c.Username, Password: c.Password,
		CAPEM: c.CAPEM, MaxRetries: 3,
	}, nil)
}

// Stop ends the quickstart and, for a temporary home, deletes its data.
func (c *Controller) Stop() {
	stopZrokOf(c)
	c.kill()
	if c.tempHome {
		_ = os.RemoveAll(c.Home)
	}
}

func (c *Controller) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done: //nolint:errcheck // the exit status of a process we killed says nothing
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done //nolint:errcheck // as above
	}
	c.cmd = nil
}

// Restart stops the process and starts it again on the same ports and
// home, keeping its data.
func (c *Controller) Restart(ctx context.Context) error {
	c.kill()
	ziti, err := Binary("ziti")
	if err != nil {
		return err
	}
	if err := c.spawn(ziti); err != nil {
		return err
	}
	return c.waitReady(ctx, 120*time.Second)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "Am-" + hex.EncodeToString(b)
}

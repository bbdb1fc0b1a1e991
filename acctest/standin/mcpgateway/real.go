package mcpgateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrRealRefused marks a config the real mcp-gateway's loader refuses.
var ErrRealRefused = errors.New("the real mcp-gateway refuses the config")

// RealLoad runs the real mcp-gateway binary bin on file with a home that
// has no zrok environment. It loads and validates the config and discovers
// its backends' tools before it tries to share, then exits because it
// cannot share; what it prints says whether the config loaded. The error
// wraps ErrRealRefused when its loader refuses the file. The output is
// returned either way.
func RealLoad(ctx context.Context, bin, file string) (string, error) {
	home, err := os.MkdirTemp("", "agentmesh-mcp-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", file) //nolint:gosec // the pinned gateway binary
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	switch {
	case strings.Contains(string(out), "failed to load config"):
		return string(out), fmt.Errorf("%w: %s", ErrRealRefused, lastLine(string(out)))
	case ctx.Err() != nil:
		return string(out), fmt.Errorf("the real mcp-gateway neither failed nor exited in 60s: %w", ctx.Err())
	case err == nil:
		return string(out), errors.New("the real mcp-gateway exited cleanly without a zrok environment, which v0.1.3 never does")
	}
	return string(out), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

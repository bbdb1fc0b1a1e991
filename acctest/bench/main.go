// Command bench measures the provider against a real controller: the wall
// time of `tofu apply` of N identities next to the same creates made
// directly through the management API with 10 workers, and the number of
// management-API requests a no-op `tofu plan` makes. Run it with `make bench`.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
)

func main() {
	n := flag.Int("n", 200, "identities per run")
	workers := flag.Int("workers", 10, "concurrent workers for the direct API run")
	flag.Parse()
	if err := run(*n, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, workers int) error {
	ctx := context.Background()
	root, err := acctest.RepoRoot()
	if err != nil {
		return err
	}
	tofu, err := acctest.Binary("tofu")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "terraform-provider-agentmesh")); err != nil {
		return fmt.Errorf("provider binary missing: run `make build` first")
	}
	work, err := os.MkdirTemp("", "agentmesh-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Printf("starting a real controller and edge router...\n")
	ctrl, err := acctest.Start(ctx, acctest.StartOptions{})
	if err != nil {
		return err
	}
	defer ctrl.Stop()

	rc := filepath.Join(work, "tofurc")
	if out, err := exec.Command(filepath.Join(root, "scripts", "tofurc.sh"), filepath.Join(root, "bin"), rc).CombinedOutput(); err != nil {
		return fmt.Errorf("writing the tofu CLI config: %v: %s", err, out)
	}
	caFile := filepath.Join(work, "ca.pem")
	if err := os.WriteFile(caFile, ctrl.CAPEM, 0o600); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`terraform {
  required_providers {
    agentmesh = { source = "registry.opentofu.org/agentmesh/agentmesh" }
  }
}
resource "agentmesh_identity" "b" {
  count        = %d
  name         = "bench-tf-${count.index}"
  organization = "bench"
}
`, n)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(cfg), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"AGENTMESH_ENDPOINT="+ctrl.Origin, "AGENTMESH_USERNAME="+ctrl.Username,
		"AGENTMESH_PASSWORD="+ctrl.Password, "AGENTMESH_CA_FILE="+caFile,
	)
	tf := func(extraEnv []string, args ...string) (time.Duration, error) {
		cmd := exec.Command(tofu, append([]string{"-chdir=" + work}, args...)...)
		cmd.Env = append(env, extraEnv...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		if err != nil {
			return 0, fmt.Errorf("tofu %s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 40))
		}
		return time.Since(start), nil
	}

	fmt.Printf("tofu apply of %d identities...\n", n)
	applyDur, err := tf(nil, "apply", "-auto-approve", "-no-color", "-input=false")
	if err != nil {
		return err
	}

	fmt.Printf("direct API creates of %d identities with %d workers...\n", n, workers)
	directDur, err := direct(ctx, ctrl, n, workers)
	if err != nil {
		return err
	}

	fmt.Printf("no-op tofu plan of %d identities...\n", n)
	logFile := filepath.Join(work, "plan.log")
	planDur, err := tf([]string{"TF_LOG=DEBUG", "TF_LOG_PATH=" + logFile}, "plan", "-no-color", "-input=false", "-detailed-exitcode")
	if err != nil {
		return fmt.Errorf("the plan after apply is not empty or failed: %w", err)
	}
	logText, err := os.ReadFile(logFile)
	if err != nil {
		return err
	}
	requests := strings.Count(string(logText), "management API request")
	sessions := strings.Count(string(logText), "opened controller API session")

	ratio := applyDur.Seconds() / directDur.Seconds()
	fmt.Println()
	fmt.Printf("%-34s %10s\n", "measure", "value")
	fmt.Printf("%-34s %10.2f\n", "tofu apply (s)", applyDur.Seconds())
	fmt.Printf("%-34s %10.2f\n", "direct API, 10 workers (s)", directDur.Seconds())
	fmt.Printf("%-34s %10.2f  (goal <= 2.00)\n", "apply / direct", ratio)
	fmt.Printf("%-34s %10.2f\n", "no-op tofu plan (s)", planDur.Seconds())
	fmt.Printf("%-34s %10d  (N/500 pages + auth; goal O(N/page))\n", "no-op plan API requests", requests)
	fmt.Printf("%-34s %10d\n", "no-op plan API sessions opened", sessions)
	fmt.Printf("bench: n=%d apply_s=%.2f direct_s=%.2f apply_ratio=%.2f noop_plan_requests=%d\n",
		n, applyDur.Seconds(), directDur.Seconds(), ratio, requests)
	return nil
}

// direct creates n identities like the provider does (one POST each, with
// a one-time enrollment), through one shared client and `workers`
// goroutines.
func direct(ctx context.Context, ctrl *acctest.Controller, n, workers int) (time.Duration, error) {
	c, err := ctrl.Client(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.Authenticate(ctx); err != nil {
		return 0, err
	}
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := &rest_model.IdentityCreate{
					Name: ptr(fmt.Sprintf("bench-direct-%d", i)), Type: rest_model.IdentityTypeDefault.Pointer(),
					IsAdmin: ptr(false), RoleAttributes: &rest_model.Attributes{"org.bench"},
					Tags:       &rest_model.Tags{SubTags: rest_model.SubTags{reconciler.TagManagedBy: "bench"}},
					Enrollment: &rest_model.IdentityCreateEnrollment{Ott: true},
				}
				if _, err := c.API.Identity.CreateIdentity(identity.NewCreateIdentityParamsWithContext(ctx).WithIdentity(body), nil); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return time.Since(start), first
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func ptr[T any](v T) *T { return &v }

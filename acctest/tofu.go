package acctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Workspace runs the real CLI (tofu, or terraform: see CLI) against c with the locally built
// provider binary (bin/terraform-provider-agentmesh) served through
// dev_overrides: a root module exactly as a user would apply it.
type Workspace struct {
	Dir  string
	tofu string
	env  []string
}

// NewWorkspace copies the .tf files under src, keeping their layout (local
// modules resolve), into dir.
func (c *Controller) NewWorkspace(src, dir string) (*Workspace, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	tofu, err := Binary(CLI())
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin")
	if _, err := os.Stat(filepath.Join(bin, "terraform-provider-agentmesh")); err != nil {
		return nil, fmt.Errorf("bin/terraform-provider-agentmesh is missing: run `make build` (make test does)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	copied := 0
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".tf" {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o700); err != nil {
			return err
		}
		copied++
		return os.WriteFile(filepath.Join(dir, rel), b, 0o600)
	})
	if err != nil {
		return nil, err
	}
	if copied == 0 {
		return nil, fmt.Errorf("no .tf files under %s", src)
	}
	rc := filepath.Join(dir, ".tofurc")
	if err := os.WriteFile(rc, []byte(DevOverrides(bin)), 0o600); err != nil {
		return nil, err
	}
	ca := filepath.Join(dir, ".ca.pem")
	if err := os.WriteFile(ca, c.CAPEM, 0o600); err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_LOG") {
			env = append(env, kv)
		}
	}
	// Under the package's secret scan, the CLI's TRACE log joins the others.
	if mask := os.Getenv("TF_LOG_PATH_MASK"); mask != "" {
		env = append(env, "TF_LOG=TRACE", "TF_LOG_PATH="+fmt.Sprintf(mask, "workspace-"+filepath.Base(dir)))
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"AGENTMESH_ENDPOINT="+c.Origin, "AGENTMESH_USERNAME="+c.Username, "AGENTMESH_PASSWORD="+c.Password,
		"AGENTMESH_CA_FILE="+ca, "AGENTMESH_CA_PEM=")
	return &Workspace{Dir: dir, tofu: tofu, env: env}, nil
}

// In returns the workspace of a sub-directory (one root module of several).
func (w *Workspace) In(sub string) *Workspace {
	c := *w
	c.Dir = filepath.Join(w.Dir, sub)
	return &c
}

// WithEnv returns the workspace with extra environment variables.
func (w *Workspace) WithEnv(kv ...string) *Workspace {
	c := *w
	c.env = append(append([]string{}, w.env...), kv...)
	return &c
}

// Env returns the workspace's environment with extra variables appended
// (later ones win).
func (w *Workspace) Env() []string { return append([]string{}, w.env...) }

// Run runs one tofu command and returns its combined output.
func (w *Workspace) Run(args ...string) (string, error) {
	cmd := exec.Command(w.tofu, append([]string{"-chdir=" + w.Dir}, args...)...)
	cmd.Env = w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w\n%s", filepath.Base(w.tofu), strings.Join(args, " "), err, out.String())
	}
	return out.String(), err
}

// Using returns the workspace driven by the named CLI (tofu or terraform)
// instead of CLI()'s.
func (w *Workspace) Using(cli string) (*Workspace, error) {
	bin, err := Binary(cli)
	if err != nil {
		return nil, err
	}
	c := *w
	c.tofu = bin
	return &c, nil
}

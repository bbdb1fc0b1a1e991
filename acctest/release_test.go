package acctest_test

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/internal/release"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// TestRelease_installsFromMirror builds this platform's release with the
// same code as make release, then installs the provider from its
// filesystem_mirror with each CLI, as the README tells a user to, and
// applies and destroys an identity with it. The CLI from the release
// reports the release's version, and so does the provider it installs.
func TestRelease_installsFromMirror(t *testing.T) {
	root, err := acctest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	changelog, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	version, err := release.Version(changelog, nil, "acctest")
	if err != nil {
		t.Fatal(err)
	}
	host := release.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	dist := filepath.Join(t.TempDir(), "dist")
	if err := release.Build(context.Background(), release.Options{
		Root: root, Out: dist, Version: version, Platforms: []release.Platform{host}, Modified: time.Unix(0, 0),
	}); err != nil {
		t.Fatal(err)
	}

	cli := filepath.Join(t.TempDir(), "agentmesh")
	unzip(t, filepath.Join(dist, fmt.Sprintf("agentmesh_%s_%s.zip", version, host)), "agentmesh", cli)
	if out, err := exec.Command(cli, "version").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "agentmesh "+version {
		t.Fatalf("agentmesh version from the release = %q, %v; want %q", out, err, "agentmesh "+version)
	}
	zipName := fmt.Sprintf("terraform-provider-agentmesh_%s_%s.zip", version, host)
	// The lock file's h1: hash is Terraform's hash of a package's
	// contents: equal to the released zip's, the CLI installed that zip.
	zipHash, err := dirhash.HashZip(filepath.Join(dist, zipName), dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"tofu", "terraform"} {
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			identity := "release-" + name
			config := fmt.Sprintf(`terraform {
  required_providers {
    agentmesh = {
      source  = "agentmesh/agentmesh"
      version = "= %s"
    }
  }
}

resource "agentmesh_identity" "from_release" {
  name                = %q
  organization        = "release-co"
  keep_enrollment_jwt = false
}
`, version, identity)
			if err := os.WriteFile(filepath.Join(src, "main.tf"), []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			// The release archive unzipped into the unpacked layout
			// (~/.terraform.d/plugins is the CLIs' implicit one).
			plugins := t.TempDir()
			for _, h := range release.Hosts {
				unzip(t, filepath.Join(dist, zipName), "terraform-provider-agentmesh_v"+version,
					filepath.Join(plugins, h, "agentmesh", "agentmesh", version, host.String(), "terraform-provider-agentmesh_v"+version))
			}
			w := mirrorWorkspace(t, src, name, plugins)
			if out, err := w.Run("init", "-no-color", "-input=false"); err != nil || !strings.Contains(out, "Installed agentmesh/agentmesh v"+version) {
				t.Fatalf("init from the unzipped archive did not install %s: %v\n%s", version, err, out)
			}

			// The filesystem_mirror make release writes, packed.
			w = mirrorWorkspace(t, src, name, filepath.Join(dist, "mirror"))
			log := filepath.Join(t.TempDir(), "provider.log")
			w = w.WithEnv("TF_LOG_PROVIDER=INFO", "TF_LOG_PATH="+log)

			out, err := w.Run("init", "-no-color", "-input=false")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "Installed agentmesh/agentmesh v"+version) {
				t.Fatalf("init did not install %s from the mirror:\n%s", version, out)
			}
			lock, err := os.ReadFile(filepath.Join(w.Dir, ".terraform.lock.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(lock), `"`+zipHash+`"`) {
				t.Fatalf("the lock file does not record the released zip's hash %s:\n%s", zipHash, lock)
			}
			t.Cleanup(func() { _, _ = w.Run("destroy", "-auto-approve", "-no-color", "-input=false") })
			if _, err := w.Run("apply", "-auto-approve", "-no-color", "-input=false"); err != nil {
				t.Fatal(err)
			}
			e := engine(t)
			if _, err := e.FindIdentityByName(context.Background(), identity); err != nil {
				t.Fatalf("%s after an apply with the released provider: %v", identity, err)
			}
			logged, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			reported := false
			for _, line := range strings.Split(string(logged), "\n") {
				if strings.Contains(line, "configuring the agentmesh provider") && strings.Contains(line, `version=`+version) {
					reported = true
				}
			}
			if !reported {
				t.Fatalf("the released provider did not log version=%s when configured", version)
			}
			if _, err := w.Run("destroy", "-auto-approve", "-no-color", "-input=false"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.FindIdentityByName(context.Background(), identity); !controller.IsNotFound(err) {
				t.Fatalf("%s after destroy: %v", identity, err)
			}
		})
	}
}

// mirrorWorkspace is a workspace of src driven by cli, with the CLI
// configuration the README gives: the mirror for agentmesh, the
// registries for everything else.
func mirrorWorkspace(t *testing.T, src, cli, mirror string) *acctest.Workspace {
	t.Helper()
	w, err := acctest.Shared.NewWorkspace(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if w, err = w.Using(cli); err != nil {
		t.Fatal(err)
	}
	rc := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/agentmesh/agentmesh", "registry.opentofu.org/agentmesh/agentmesh"]
  }
  direct {
    exclude = ["registry.terraform.io/agentmesh/agentmesh", "registry.opentofu.org/agentmesh/agentmesh"]
  }
}
`, mirror)
	if err := os.WriteFile(filepath.Join(w.Dir, ".tofurc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func unzip(t *testing.T, archive, entry, to string) {
	t.Helper()
	r, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, f := range r.File {
		if f.Name != entry {
			continue
		}
		in, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o700)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if _, err := io.Copy(out, in); err != nil { //nolint:gosec // the test's own release
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s has no %s", archive, entry)
}

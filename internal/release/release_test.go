package release

import (
	"archive/zip"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const changelog = `# Changelog

## 0.2.0 (Unreleased)

### Added
- thing two

## 0.1.0 - 2026-11-01

- thing one
`

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		name, log, commit, want, err string
		tags                         []string
	}{
		{name: "tagged", log: changelog, tags: []string{"v0.2.0"}, commit: "abc1234", want: "0.2.0"},
		{name: "snapshot", log: changelog, tags: []string{"v0.1.0"}, commit: "abc1234", want: "0.2.0-snapshot-abc1234"},
		{name: "no version", log: "# Changelog\n\n## Unreleased\n", commit: "abc", err: "names no version"},
		{name: "snapshot without commit", log: changelog, err: "needs the commit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Version([]byte(tc.log), tc.tags, tc.commit)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Version = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestNotes(t *testing.T) {
	got, err := Notes([]byte(changelog), "0.2.0-snapshot-abc")
	if err != nil || got != "### Added\n- thing two\n" {
		t.Fatalf("Notes(0.2.0) = %q, %v", got, err)
	}
	if got, err = Notes([]byte(changelog), "0.1.0"); err != nil || got != "- thing one\n" {
		t.Fatalf("Notes(0.1.0) = %q, %v", got, err)
	}
	if _, err := Notes([]byte(changelog), "0.3.0"); err == nil {
		t.Fatal("a version with no section has notes")
	}
}

func TestPlanNamesWhatRegistriesExpect(t *testing.T) {
	var names []string
	for _, a := range Plan("1.2.3", []Platform{{"linux", "amd64"}, {"windows", "arm64"}}) {
		names = append(names, a.Name+"="+a.Binary)
	}
	want := []string{
		"terraform-provider-agentmesh_1.2.3_linux_amd64.zip=terraform-provider-agentmesh_v1.2.3",
		"agentmesh_1.2.3_linux_amd64.zip=agentmesh",
		"terraform-provider-agentmesh_1.2.3_windows_arm64.zip=terraform-provider-agentmesh_v1.2.3.exe",
		"agentmesh_1.2.3_windows_arm64.zip=agentmesh.exe",
		"terraform-provider-agentmesh_1.2.3_manifest.json=",
		"terraform-provider-agentmesh_1.2.3_SHA256SUMS=",
		"agentmesh_1.2.3_SHA256SUMS=",
		"RELEASE_NOTES.md=",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("Plan =\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ParsePlatforms("linux_amd64,darwin"); err == nil {
		t.Fatal("a platform without an arch parsed")
	}
}

// fakeRepo is a repository root with the files a release reads and a go
// command that writes its -o file with the GOOS/GOARCH it was given, so
// Build and Check run without compiling.
func fakeRepo(t *testing.T) (root, goCmd string) {
	t.Helper()
	root = t.TempDir()
	for name, body := range map[string]string{
		"CHANGELOG.md":                     changelog,
		"LICENSE":                          "Apache License 2.0\n",
		"terraform-registry-manifest.json": `{"version":1,"metadata":{"protocol_versions":["6.0"]}}`,
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	goCmd = filepath.Join(root, "fakego")
	script := "#!/bin/sh\nwhile [ $# -gt 1 ]; do [ \"$1\" = -o ] && out=$2; shift; done\nmkdir -p \"$(dirname \"$out\")\"\necho \"$GOOS/$GOARCH $CGO_ENABLED $1\" > \"$out\"\n"
	if err := os.WriteFile(goCmd, []byte(script), 0o700); err != nil { //nolint:gosec // a test's own script
		t.Fatal(err)
	}
	return root, goCmd
}

func TestBuildThenCheck(t *testing.T) {
	root, goCmd := fakeRepo(t)
	out := filepath.Join(t.TempDir(), "dist")
	ps := []Platform{{"linux", "amd64"}, {"darwin", "arm64"}}
	o := Options{Root: root, Out: out, Version: "0.2.0", Platforms: ps, Modified: time.Unix(1700000000, 0), Go: goCmd}
	if err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(out, "terraform-provider-agentmesh_0.2.0_SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(sums), "\n"); n != 3 || !strings.Contains(string(sums), "  terraform-provider-agentmesh_0.2.0_manifest.json\n") {
		t.Fatalf("provider SHA256SUMS (want 2 zips and the manifest):\n%s", sums)
	}
	if notes, _ := os.ReadFile(filepath.Join(out, "RELEASE_NOTES.md")); string(notes) != "### Added\n- thing two\n" {
		t.Fatalf("release notes = %q", notes)
	}
	zr, err := zip.OpenReader(filepath.Join(out, "agentmesh_0.2.0_darwin_arm64.zip"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	built, _ := io.ReadAll(f)
	zr.Close()
	if string(built) != "darwin/arm64 0 ./cmd/agentmesh\n" {
		t.Fatalf("the darwin_arm64 CLI was built as %q, want GOOS/GOARCH darwin/arm64 with CGO_ENABLED=0", built)
	}
	first, err := os.ReadFile(filepath.Join(out, "agentmesh_0.2.0_linux_amd64.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(out, "agentmesh_0.2.0_linux_amd64.zip")); string(again) != string(first) {
		t.Fatal("two builds of one commit gave different zips")
	}

	for _, tc := range []struct {
		name   string
		damage func(t *testing.T)
		want   string
	}{
		{"a zip changed after its sum", func(t *testing.T) {
			write(t, filepath.Join(out, "agentmesh_0.2.0_darwin_arm64.zip"), "not a zip")
		}, "agentmesh_0.2.0_darwin_arm64.zip"},
		{"a file missing", func(t *testing.T) {
			if err := os.Remove(filepath.Join(out, "RELEASE_NOTES.md")); err != nil {
				t.Fatal(err)
			}
		}, "release files are"},
		{"an extra file", func(t *testing.T) { write(t, filepath.Join(out, "stray.txt"), "x") }, "release files are"},
		{"a mirror zip differing", func(t *testing.T) {
			write(t, filepath.Join(out, MirrorPath("registry.opentofu.org", "0.2.0", ps[0])), "x")
		}, "differs from the released zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Build(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			tc.damage(t)
			if err := Check(out, "0.2.0", ps); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBuildRefusesToEmptyWhatIsNotARelease(t *testing.T) {
	root, goCmd := fakeRepo(t)
	o := Options{Root: root, Out: root, Version: "0.2.0", Platforms: []Platform{{"linux", "amd64"}}, Go: goCmd}
	if err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "holds the repository") {
		t.Fatalf("a release into the repository: %v", err)
	}
	other := t.TempDir()
	write(t, filepath.Join(other, "precious.txt"), "keep me")
	o.Out = other
	if err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "holds no earlier release") {
		t.Fatalf("a release into a folder of other files: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "precious.txt")); err != nil {
		t.Fatal("a refused release deleted the folder's files")
	}
}

// Package release builds agentmesh's release artifacts offline: the
// provider and the agentmesh CLI for every supported platform, zipped and
// named the way the Terraform and OpenTofu registries expect, with
// SHA256SUMS, the registry manifest, release notes from CHANGELOG.md and a
// filesystem_mirror that either CLI installs from.
//
// It is a small program of its own rather than goreleaser: the goreleaser
// releases the module proxy serves here are not approved ones, and the
// whole job is go build, archive/zip and crypto/sha256.
package release

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Provider is the provider's type name; its binaries, zips and mirror
// paths all derive from it.
const Provider = "agentmesh"

// Hosts are the registries whose addresses the mirror serves, so one
// configuration with source = "agentmesh/agentmesh" installs on both CLIs.
var Hosts = []string{"registry.terraform.io", "registry.opentofu.org"}

// Platform is one GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "_" + p.Arch }

func (p Platform) exe(name string) string {
	if p.OS == "windows" {
		return name + ".exe"
	}
	return name
}

// Platforms are the ones a release carries.
var Platforms = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// ParsePlatforms reads "linux_amd64,darwin_arm64".
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	for _, f := range strings.Split(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(f), "_")
		if !ok || os == "" || arch == "" {
			return nil, fmt.Errorf("platform %q: write it as GOOS_GOARCH, for example linux_amd64", f)
		}
		out = append(out, Platform{os, arch})
	}
	return out, nil
}

// Artifact is one file of a release, relative to its output folder.
type Artifact struct {
	Name string
	// Binary is the zip's executable entry, and Package the Go package it
	// is built from; both are empty for files that are not archives.
	Binary, Package string
	Platform        Platform
}

func providerZip(version string, p Platform) string {
	return fmt.Sprintf("terraform-provider-%s_%s_%s.zip", Provider, version, p)
}

// Plan lists a release's artifacts, in the order they are written.
func Plan(version string, platforms []Platform) []Artifact {
	var out []Artifact
	for _, p := range platforms {
		out = append(out,
			Artifact{Name: providerZip(version, p), Binary: p.exe(fmt.Sprintf("terraform-provider-%s_v%s", Provider, version)), Package: ".", Platform: p},
			Artifact{Name: fmt.Sprintf("agentmesh_%s_%s.zip", version, p), Binary: p.exe("agentmesh"), Package: "./cmd/agentmesh", Platform: p})
	}
	return append(out,
		Artifact{Name: manifestName(version)},
		Artifact{Name: providerSums(version)},
		Artifact{Name: cliSums(version)},
		Artifact{Name: "RELEASE_NOTES.md"})
}

func manifestName(v string) string {
	return fmt.Sprintf("terraform-provider-%s_%s_manifest.json", Provider, v)
}
func providerSums(v string) string {
	return fmt.Sprintf("terraform-provider-%s_%s_SHA256SUMS", Provider, v)
}
func cliSums(v string) string { return fmt.Sprintf("agentmesh_%s_SHA256SUMS", v) }

// MirrorPath is where a provider zip sits in the filesystem_mirror's
// packed layout for host.
func MirrorPath(host, version string, p Platform) string {
	return filepath.Join("mirror", host, Provider, Provider, providerZip(version, p))
}

var versionHeading = regexp.MustCompile(`(?m)^## v?(\d+\.\d+\.\d+)\b.*$`)

// Version is the version being released: the newest one CHANGELOG.md
// names, as it is when HEAD carries its tag (v1.2.3), and otherwise a
// snapshot of it (1.2.3-snapshot-<commit>), a prerelease that no version
// constraint but an exact one selects.
func Version(changelog []byte, tagsAtHead []string, commit string) (string, error) {
	m := versionHeading.FindSubmatch(changelog)
	if m == nil {
		return "", errors.New("CHANGELOG.md names no version: head the section being released `## X.Y.Z (Unreleased)`")
	}
	v := string(m[1])
	if slices.Contains(tagsAtHead, "v"+v) {
		return v, nil
	}
	if commit == "" {
		return "", fmt.Errorf("a snapshot of %s needs the commit it is built from", v)
	}
	return v + "-snapshot-" + commit, nil
}

// Notes is the CHANGELOG.md section of version (its X.Y.Z part), without
// its heading.
func Notes(changelog []byte, version string) (string, error) {
	base, _, _ := strings.Cut(version, "-")
	locs := versionHeading.FindAllSubmatchIndex(changelog, -1)
	for i, l := range locs {
		if string(changelog[l[2]:l[3]]) != base {
			continue
		}
		end := len(changelog)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		return strings.TrimSpace(string(changelog[l[1]:end])) + "\n", nil
	}
	return "", fmt.Errorf("CHANGELOG.md has no section for %s", base)
}

// Options say what to build.
type Options struct {
	Root, Out string // the repository and the folder the release is written to (emptied first)
	Version   string
	Platforms []Platform
	// Modified is every zip entry's time, so that one commit always gives
	// the same bytes.
	Modified time.Time
	Go       string    // the go command; "go" when empty
	Log      io.Writer // progress, one line per build
}

// Build writes the release and then checks it with Check.
func Build(ctx context.Context, o Options) error {
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	changelog, err := os.ReadFile(filepath.Join(o.Root, "CHANGELOG.md"))
	if err != nil {
		return err
	}
	notes, err := Notes(changelog, o.Version)
	if err != nil {
		return err
	}
	manifest, err := os.ReadFile(filepath.Join(o.Root, "terraform-registry-manifest.json"))
	if err != nil {
		return err
	}
	license, err := os.ReadFile(filepath.Join(o.Root, "LICENSE"))
	if err != nil {
		return err
	}
	if err := safeToEmpty(o.Root, o.Out); err != nil {
		return err
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return err
	}
	work := filepath.Join(o.Out, ".build")
	if err := os.MkdirAll(work, 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, marker), []byte("written by make release; emptied by the next one\n"), 0o600); err != nil {
		return err
	}
	for _, a := range Plan(o.Version, o.Platforms) {
		if a.Package == "" {
			continue
		}
		fmt.Fprintf(o.Log, ">> %s\n", a.Name)
		bin := filepath.Join(work, a.Platform.String(), a.Binary)
		if err := goBuild(ctx, o, a, bin); err != nil {
			return err
		}
		exe, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		if err := writeZip(filepath.Join(o.Out, a.Name), o.Modified, entry{a.Binary, exe, 0o755}, entry{"LICENSE", license, 0o644}); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, manifestName(o.Version)), manifest, 0o644); err != nil { //nolint:gosec // release files are public
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, "RELEASE_NOTES.md"), []byte(notes), 0o644); err != nil { //nolint:gosec // release files are public
		return err
	}
	if err := writeSums(o.Out, providerSums(o.Version), func(n string) bool {
		return strings.HasPrefix(n, "terraform-provider-") && !strings.HasSuffix(n, "_SHA256SUMS")
	}); err != nil {
		return err
	}
	if err := writeSums(o.Out, cliSums(o.Version), func(n string) bool { return strings.HasPrefix(n, "agentmesh_") && strings.HasSuffix(n, ".zip") }); err != nil {
		return err
	}
	for _, p := range o.Platforms {
		for _, h := range Hosts {
			if err := copyFile(filepath.Join(o.Out, providerZip(o.Version, p)), filepath.Join(o.Out, MirrorPath(h, o.Version, p))); err != nil {
				return err
			}
		}
	}
	return Check(o.Out, o.Version, o.Platforms)
}

// marker marks a folder Build wrote, so a later Build may empty it.
const marker = ".agentmesh-release"

// safeToEmpty refuses to empty an output folder that holds the
// repository, or that holds anything but an earlier release.
func safeToEmpty(root, out string) error {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(absOut, absRoot); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("the release folder %s holds the repository; choose another -out, for example dist", out)
	}
	entries, err := os.ReadDir(absOut)
	if errors.Is(err, os.ErrNotExist) || len(entries) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(absOut, marker)); err != nil {
		return fmt.Errorf("the release folder %s is not empty and holds no earlier release; empty it or choose another -out", out)
	}
	return nil
}

func goBuild(ctx context.Context, o Options, a Artifact, out string) error {
	cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-ldflags", "-s -w -X main.version="+o.Version, "-o", out, a.Package) //nolint:gosec // packages of this repository
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+a.Platform.OS, "GOARCH="+a.Platform.Arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s for %s: %w\n%s", a.Package, a.Platform, err, b)
	}
	return nil
}

type entry struct {
	name string
	body []byte
	mode os.FileMode
}

func writeZip(path string, modified time.Time, entries ...entry) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: modified.UTC()}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(e.body); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644) //nolint:gosec // release files are public
}

func writeSums(dir, name string, include func(string) bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() || !include(e.Name()) {
			continue
		}
		sum, err := fileSum(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, e.Name())
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644) //nolint:gosec // release files are public
}

func fileSum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil { //nolint:gosec // a mirror others read
		return err
	}
	return os.WriteFile(to, b, 0o644) //nolint:gosec // release files are public
}

// Check verifies a written release: exactly the planned files, every zip
// holding its binary (executable) and the LICENSE and nothing else, both
// SHA256SUMS matching the files they list and listing every archive, and
// the mirror holding the same provider zips for each host.
func Check(dir, version string, platforms []Platform) error {
	plan := Plan(version, platforms)
	var want []string
	for _, a := range plan {
		want = append(want, a.Name)
	}
	slices.Sort(want)
	var got []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() && e.Name() != marker {
			got = append(got, e.Name())
		}
	}
	var errs []error
	if !slices.Equal(got, want) {
		errs = append(errs, fmt.Errorf("release files are %v, want %v", got, want))
	}
	for _, a := range plan {
		if a.Binary == "" {
			continue
		}
		if err := checkZip(filepath.Join(dir, a.Name), a.Binary); err != nil {
			errs = append(errs, err)
		}
	}
	sums := map[string]string{}
	for _, f := range []string{providerSums(version), cliSums(version)} {
		listed, err := checkSums(dir, f)
		if err != nil {
			errs = append(errs, err)
		}
		for k, v := range listed {
			sums[k] = v
		}
	}
	for _, a := range plan {
		if _, ok := sums[a.Name]; !ok && (a.Binary != "" || a.Name == manifestName(version)) {
			errs = append(errs, fmt.Errorf("%s is in no SHA256SUMS", a.Name))
		}
	}
	for _, p := range platforms {
		for _, h := range Hosts {
			sum, err := fileSum(filepath.Join(dir, MirrorPath(h, version, p)))
			if err != nil {
				errs = append(errs, fmt.Errorf("mirror: %w", err))
			} else if sum != sums[providerZip(version, p)] {
				errs = append(errs, fmt.Errorf("mirror: %s differs from the released zip", MirrorPath(h, version, p)))
			}
		}
	}
	return errors.Join(errs...)
}

func checkZip(path, binary string) error {
	r, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var names []string
	for _, f := range r.File {
		names = append(names, f.Name)
		if f.Name == binary && f.Mode()&0o111 == 0 {
			return fmt.Errorf("%s: %s is not executable", filepath.Base(path), binary)
		}
	}
	if !slices.Equal(names, []string{binary, "LICENSE"}) {
		return fmt.Errorf("%s holds %v, want [%s LICENSE]", filepath.Base(path), names, binary)
	}
	return nil
}

func checkSums(dir, name string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", name, sc.Text())
		}
		actual, err := fileSum(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("%s lists %s: %w", name, file, err)
		}
		if actual != sum {
			return nil, fmt.Errorf("%s: %s has sha256 %s, listed as %s", name, file, actual, sum)
		}
		out[file] = sum
	}
	return out, sc.Err()
}

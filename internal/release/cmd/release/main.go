// Command release writes agentmesh's release into dist/ (see package
// release): make release runs it. With no -version it releases the newest
// version in CHANGELOG.md, as a snapshot unless HEAD carries its tag.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentmesh/agentmesh/internal/release"
)

func main() {
	if err := run(); err != nil {
		slog.Error("release failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "dist", "folder to write the release to (emptied first)")
	version := flag.String("version", "", "version to release (default: from CHANGELOG.md and the tags at HEAD)")
	platforms := flag.String("platforms", "", "GOOS_GOARCH list (default: linux, darwin and windows on amd64 and arm64)")
	check := flag.Bool("check", false, "only check an existing release in -out")
	flag.Parse()

	root, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	ps := release.Platforms
	if *platforms != "" {
		if ps, err = release.ParsePlatforms(*platforms); err != nil {
			return err
		}
	}
	if *version == "" {
		changelog, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
		if err != nil {
			return err
		}
		tags, _ := git("tag", "--points-at", "HEAD")
		commit, err := git("rev-parse", "--short", "HEAD")
		if err != nil {
			return err
		}
		if *version, err = release.Version(changelog, strings.Fields(tags), commit); err != nil {
			return err
		}
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if *check {
		return report(release.Check(dir, *version, ps), dir, *version)
	}
	modified, err := sourceDate()
	if err != nil {
		return err
	}
	err = release.Build(context.Background(), release.Options{
		Root: root, Out: dir, Version: *version, Platforms: ps, Modified: modified, Log: os.Stderr,
	})
	return report(err, dir, *version)
}

func report(err error, dir, version string) error {
	if err != nil {
		return err
	}
	fmt.Printf("release %s checked in %s\n", version, dir)
	return nil
}

// sourceDate is SOURCE_DATE_EPOCH, or the commit's time: zips built
// from one commit are the same bytes.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		var err error
		if s, err = git("log", "-1", "--format=%ct", "HEAD"); err != nil {
			return time.Time{}, err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0), nil
}

func git(args ...string) (string, error) {
	b, err := exec.Command("git", args...).Output() //nolint:gosec // fixed git subcommands
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}

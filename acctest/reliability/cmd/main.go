// Command reliability runs the fault suite with several trials and prints
// its table. `make reliability` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/agentmesh/agentmesh/acctest/reliability"
)

func main() {
	trials := flag.Int("trials", 3, "trials per scenario (each with its own seed)")
	seed := flag.Uint64("seed", 1, "first seed")
	only := flag.String("only", "", "comma-separated scenario names to run")
	flag.Parse()
	opts := reliability.Options{Trials: *trials, Seed: *seed, Progress: os.Stderr}
	if *only != "" {
		opts.Scenarios = strings.Split(*only, ",")
	}
	res, err := reliability.Run(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	reliability.Print(os.Stdout, res)
	for _, r := range res.Rows {
		if r.Converged != r.Trials || r.Duplicates+r.Orphans+r.Lost+r.Errors > 0 {
			os.Exit(1)
		}
	}
	if res.SecretsFound > 0 {
		os.Exit(1)
	}
}

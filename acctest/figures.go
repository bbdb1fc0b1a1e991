package acctest

import (
	"fmt"
	"strings"
)

// Figures are a benchmark's results, kept in the order they were taken,
// for its one `bench: key=value ...` line.
type Figures struct {
	keys []string
	vals map[string]string
}

// Add records one figure.
func (f *Figures) Add(k, format string, v any) {
	if f.vals == nil {
		f.vals = map[string]string{}
	}
	f.keys = append(f.keys, k)
	f.vals[k] = fmt.Sprintf(format, v)
}

// Get is a recorded figure as printed.
func (f *Figures) Get(k string) string { return f.vals[k] }

// Line is the `bench:` summary line.
func (f *Figures) Line() string {
	kv := make([]string, 0, len(f.keys))
	for _, k := range f.keys {
		kv = append(kv, k+"="+f.vals[k])
	}
	return "bench: " + strings.Join(kv, " ")
}

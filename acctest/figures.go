package acctest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
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

// Percentile is the p-th percentile (nearest rank) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(float64(len(s))*p/100)) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// MS is d in milliseconds, to the microsecond.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

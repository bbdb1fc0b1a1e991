package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Files of a trail directory. The live file is Current; a full one is
// renamed to audit-<first seq, 12 digits>.jsonl, so names sort in the
// order they were written.
const (
	Current    = "audit.jsonl"
	cursorFile = "cursor.json"
)

// DefaultMaxBytes is the size at which the live file rotates.
const DefaultMaxBytes = 64 << 20

// Trail appends records to a directory of JSON-lines files. A batch is
// written, synced, and then the follower's cursor saved; on open, a line
// cut short by a crash is dropped and the keys of the live file are
// loaded, so a fact delivered again after a restart is not written twice.
type Trail struct {
	dir      string
	maxBytes int64
	tee      io.Writer

	mu    sync.Mutex
	f     *os.File
	size  int64
	seq   int64
	first int64 // seq of the live file's first record
	keys  map[string]bool
	// prev holds the keys of the file rotated away while this process ran:
	// a batch written just before a crash may have filled the live file,
	// and the next Append rotates before the batch comes again.
	prev map[string]bool
}

// Options tune a trail.
type Options struct {
	// MaxBytes rotates the live file once it holds this much
	// (DefaultMaxBytes when 0).
	MaxBytes int64
	// Tee also receives every line written (stdout, for a log shipper).
	Tee io.Writer
}

// Open opens (or starts) the trail in dir.
func Open(dir string, o Options) (*Trail, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// An existing directory keeps its mode otherwise.
	if err := os.Chmod(dir, 0o700); err != nil { // #nosec G302 -- a directory needs its search bit; no one else gets any
		return nil, err
	}
	t := &Trail{dir: dir, maxBytes: o.MaxBytes, tee: o.Tee, keys: map[string]bool{}, prev: map[string]bool{}}
	if t.maxBytes <= 0 {
		t.maxBytes = DefaultMaxBytes
	}
	if err := t.recover(); err != nil {
		return nil, err
	}
	return t, nil
}

// recover reads the live file: its whole lines, their keys and the last
// seq; a partial last line is cut off.
func (t *Trail) recover() error {
	path := filepath.Join(t.dir, Current)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	recs, good, err := scan(f)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("audit trail %s: %w", path, err)
	}
	for _, rec := range recs {
		t.keys[rec.Key] = true
	}
	if len(recs) > 0 {
		t.first, t.seq = recs[0].Seq, recs[len(recs)-1].Seq
	}
	if err := f.Truncate(good); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		_ = f.Close()
		return err
	}
	t.f, t.size = f, good
	if t.seq == 0 {
		// A fresh live file continues the numbering of the last rotated one.
		if last, err := lastRotated(t.dir); err == nil && last != "" {
			recs, err := readFile(filepath.Join(t.dir, last))
			if err != nil {
				return err
			}
			if len(recs) > 0 {
				t.seq = recs[len(recs)-1].Seq
			}
		}
	}
	return nil
}

// Append numbers and writes a batch, skipping facts already written, and
// syncs it. It returns the records as written.
func (t *Trail) Append(recs []Record) ([]Record, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.size >= t.maxBytes {
		if err := t.rotate(); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		if t.keys[r.Key] || t.prev[r.Key] {
			continue
		}
		t.seq++
		r.Seq = t.seq
		if t.first == 0 {
			t.first = r.Seq
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
		buf.WriteByte('\n')
		t.keys[r.Key] = true
		out = append(out, r)
	}
	if buf.Len() == 0 {
		return nil, nil
	}
	if _, err := t.f.Write(buf.Bytes()); err != nil {
		return nil, err
	}
	if err := t.f.Sync(); err != nil {
		return nil, err
	}
	t.size += int64(buf.Len())
	if t.tee != nil {
		_, _ = t.tee.Write(buf.Bytes())
	}
	return out, nil
}

// rotate renames the live file and starts a new one. It runs before a
// batch; the rotated file's keys are kept (prev) for facts delivered
// again after a crash that came between a batch and its cursor.
func (t *Trail) rotate() error {
	if err := t.f.Close(); err != nil {
		return err
	}
	name := fmt.Sprintf("audit-%012d.jsonl", t.first)
	if err := os.Rename(filepath.Join(t.dir, Current), filepath.Join(t.dir, name)); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(t.dir, Current), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	t.f, t.size, t.first, t.prev, t.keys = f, 0, 0, t.keys, map[string]bool{}
	return nil
}

// SaveCursor stores the follower's position atomically (write, sync,
// rename).
func (t *Trail) SaveCursor(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := filepath.Join(t.dir, cursorFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(t.dir, cursorFile))
}

// LoadCursor reads the saved cursor into v; ok is false when there is none.
func (t *Trail) LoadCursor(v any) (bool, error) {
	b, err := os.ReadFile(filepath.Join(t.dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

// Close closes the live file.
func (t *Trail) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.f.Close()
}

// Read returns every record of the trail in dir, oldest first.
func Read(dir string) ([]Record, error) {
	names, err := rotated(dir)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, n := range append(names, Current) {
		recs, err := readFile(filepath.Join(dir, n))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// ReadFrom reads records from r (one trail file, or the stdout sink).
func ReadFrom(r io.Reader) ([]Record, error) {
	recs, _, err := scan(r)
	return recs, err
}

// scan reads the whole lines of r as records, and how many bytes they
// take: a last line without its newline was cut short and is left out.
func scan(r io.Reader) ([]Record, int64, error) {
	var out []Record
	var whole int64
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var rec Record
			if err := json.Unmarshal(line, &rec); err != nil {
				return out, whole, fmt.Errorf("damaged at byte %d: %w", whole, err)
			}
			out = append(out, rec)
			whole += int64(len(line))
		}
		if errors.Is(err, io.EOF) {
			return out, whole, nil
		}
		if err != nil {
			return out, whole, err
		}
	}
}

func readFile(path string) ([]Record, error) {
	f, err := os.Open(path) // #nosec G304 -- a file of the trail directory the user named
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFrom(f)
}

func rotated(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, "audit-") && strings.HasSuffix(n, ".jsonl") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func lastRotated(dir string) (string, error) {
	names, err := rotated(dir)
	if err != nil || len(names) == 0 {
		return "", err
	}
	return names[len(names)-1], nil
}

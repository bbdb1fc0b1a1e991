package audit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func rec(key string) Record {
	return Record{Time: time.Unix(1700000000, 0).UTC(), Kind: KindSessionCreated, Key: key, Source: "controller"}
}

// TestTrailResumesWithoutLossOrDuplicates writes, crashes mid-line,
// reopens and delivers the last batch again: every fact is in the trail
// once, numbered without holes, across rotations.
func TestTrailResumesWithoutLossOrDuplicates(t *testing.T) {
	dir := t.TempDir()
	var tee bytes.Buffer
	tr, err := Open(dir, Options{MaxBytes: 600, Tee: &tee})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := tr.Append([]Record{rec(fmt.Sprint("a", i)), rec(fmt.Sprint("b", i))}); err != nil {
			t.Fatal(err)
		}
		if err := tr.SaveCursor(map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	// A batch written but its cursor not saved, then a crash that cut
	// a further line short.
	if _, err := tr.Append([]Record{rec("c0"), rec("c1")}); err != nil {
		t.Fatal(err)
	}
	_ = tr.Close()
	f, err := os.OpenFile(filepath.Join(dir, Current), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"seq":43,"kind":"session.cre`)
	_ = f.Close()

	tr, err = Open(dir, Options{MaxBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	var cur map[string]int
	if ok, err := tr.LoadCursor(&cur); !ok || err != nil || cur["i"] != 19 {
		t.Fatalf("cursor %v %t %v", cur, ok, err)
	}
	// The follower resumes from its cursor and delivers c0, c1 again.
	if got, err := tr.Append([]Record{rec("c0"), rec("c1"), rec("d0")}); err != nil || len(got) != 1 || got[0].Seq != 43 {
		t.Fatalf("after resume wrote %+v %v, want only d0 as seq 43", got, err)
	}
	_ = tr.Close()

	all, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 43 {
		t.Fatalf("%d records, want 43", len(all))
	}
	seen := map[string]bool{}
	for i, r := range all {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if seen[r.Key] {
			t.Fatalf("%s written twice", r.Key)
		}
		seen[r.Key] = true
	}
	if n, _ := rotated(dir); len(n) < 2 {
		t.Fatalf("the trail did not rotate: %v", n)
	}
	if fromTee, err := ReadFrom(&tee); err != nil || len(fromTee) != 42 {
		t.Fatalf("the tee saw %d records (%v), want the 42 of the first run", len(fromTee), err)
	}
	for _, n := range append(mustRotated(t, dir), Current) {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v %v, want 0600", n, st.Mode().Perm(), err)
		}
	}
}

func mustRotated(t *testing.T, dir string) []string {
	n, err := rotated(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTrailRefusesADamagedLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, Current), []byte("{\"seq\":1}\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a damaged trail opened")
	}
}

// TestTrailCrashBeforeCursorAtRotation: a batch fills the live file, the
// process dies before saving its cursor, and the batch comes again after
// the restart, when the next Append rotates first: nothing is written
// twice.
func TestTrailCrashBeforeCursorAtRotation(t *testing.T) {
	dir := t.TempDir()
	tr, err := Open(dir, Options{MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Append([]Record{rec("a"), rec("b")}); err != nil {
		t.Fatal(err)
	}
	_ = tr.Close() // no cursor saved
	tr, err = Open(dir, Options{MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tr.Append([]Record{rec("a"), rec("b"), rec("c")}); err != nil || len(got) != 1 || got[0].Key != "c" {
		t.Fatalf("after the restart wrote %+v %v, want only c", got, err)
	}
	_ = tr.Close()
	all, err := Read(dir)
	if err != nil || len(all) != 3 {
		t.Fatalf("%d records (%v), want 3", len(all), err)
	}
}

package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/control"
)

// TestJournalKeepsFactsAcrossRestarts: facts added are numbered, kept
// across a restart (a line cut short is dropped), served after a cursor,
// and a rotation keeps the previous file so a follower that is behind
// still finds them.
func TestJournalKeepsFactsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	epoch := j.Facts(control.FactsQuery{}).Epoch
	for i := 0; i < 30; i++ {
		j.Add(gateways.RequestFact{Identity: "pulse-agent", Model: "llama3", TotalTokens: int64(i)})
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"seq":31,"ident`)
	_ = f.Close()

	j, err = OpenJournal(dir, 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.Add(gateways.RequestFact{Identity: "pulse-agent", TotalTokens: 99})
	deadline := time.Now().Add(5 * time.Second)
	var got control.Facts
	for time.Now().Before(deadline) {
		if got = j.Facts(control.FactsQuery{After: 28}); got.Last == 31 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.Last != 31 || len(got.Facts) != 3 || got.Facts[0].Seq != 29 || got.Facts[2].TotalTokens != 99 {
		t.Fatalf("after 28: %+v", got)
	}
	if epoch == "" || got.Epoch != epoch {
		t.Fatalf("epoch %q after a restart, %q before", got.Epoch, epoch)
	}
	// The first 30 filled the live file past 2000 bytes: the 31st went
	// into a new one, and the full one is kept.
	if got.Oldest != 1 {
		t.Fatalf("oldest %d, want 1 (the rotated file is kept)", got.Oldest)
	}
	if _, err := os.Stat(filepath.Join(dir, journalOldFile)); err != nil {
		t.Fatalf("the journal did not rotate: %v", err)
	}
	if all := j.Facts(control.FactsQuery{}); all.Facts[0].Seq != all.Oldest || all.Facts[len(all.Facts)-1].Seq != 31 {
		t.Fatalf("from the start: %+v", all)
	}
	for _, n := range []string{journalFile, journalOldFile} {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", n, st, err)
		}
	}
}

// TestJournalNeverBlocks: a full queue drops, it does not wait.
func TestJournalNeverBlocks(t *testing.T) {
	j := &Journal{queue: make(chan gateways.RequestFact, 1)}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100; i++ {
			j.Add(gateways.RequestFact{})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Add blocked on a full queue")
	}
	if d := j.dropped.Load(); d != 99 {
		t.Fatalf("dropped %d, want 99", d)
	}
	if f := j.Facts(control.FactsQuery{}); f.Dropped != 99 {
		t.Fatalf("the follower is told %d were dropped, want 99", f.Dropped)
	}
}

// TestJournalStartedAfreshHasANewEpoch: a journal whose files are gone
// numbers from 1 again under another epoch.
func TestJournalStartedAfreshHasANewEpoch(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Add(gateways.RequestFact{Identity: "a"})
	_ = j.Close()
	old := j.Facts(control.FactsQuery{}).Epoch
	for _, n := range []string{journalFile, journalOldFile} {
		_ = os.Remove(filepath.Join(dir, n))
	}
	j, err = OpenJournal(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if f := j.Facts(control.FactsQuery{}); f.Epoch == old || f.Last != 0 {
		t.Fatalf("a fresh journal: %+v, old epoch %q", f, old)
	}
}

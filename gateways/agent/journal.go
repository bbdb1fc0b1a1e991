package agent

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/control"
)

// Files of the request journal in the state directory (0600): the live
// file, and the one before it once the live file is full.
const (
	journalFile    = "requests.jsonl"
	journalOldFile = "requests.1.jsonl"
	// journalEpoch names this journal: a journal started afresh (its
	// files deleted, a new host) numbers from 1 again under a new epoch,
	// so a follower's cursor from the old one is not taken for a position
	// in it.
	journalEpoch = "requests.epoch"
)

// Journal keeps the front's request facts until the audit follower has
// read them. Requests never wait for it: a fact goes into a buffered
// queue and a writer appends it to the journal file, so neither a slow
// disk nor an absent follower holds up a request. The follower reads
// over the dark control service with a cursor (the last seq it wrote):
// the agent is already the only thing the reconciler's identity dials on
// the gateway host, and a file would need a collector on every host.
type Journal struct {
	dir      string
	maxBytes int64
	log      *slog.Logger
	queue    chan gateways.RequestFact
	stop     chan struct{}
	done     chan struct{}
	dropped  atomic.Int64 // since the last warning
	lost     atomic.Int64 // since the journal opened, for the follower
	epoch    string

	mu     sync.Mutex
	f      *os.File
	size   int64
	seq    int64
	recent []gateways.RequestFact // the facts of both files, oldest first
}

// OpenJournal opens the journal in dir, reading back what it holds.
func OpenJournal(dir string, maxBytes int64, log *slog.Logger) (*Journal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if maxBytes <= 0 {
		maxBytes = 32 << 20
	}
	j := &Journal{dir: dir, maxBytes: maxBytes, log: log, queue: make(chan gateways.RequestFact, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	for _, n := range []string{journalOldFile, journalFile} {
		facts, size, err := readJournal(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		j.recent = append(j.recent, facts...)
		if n == journalFile {
			j.size = size
		}
	}
	if len(j.recent) > 0 {
		j.seq = j.recent[len(j.recent)-1].Seq
	}
	epoch, err := os.ReadFile(filepath.Join(dir, journalEpoch)) // #nosec G304 -- the agent's own state directory
	if err != nil || len(j.recent) == 0 {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		epoch = []byte(hex.EncodeToString(b))
		if err := gateways.WriteAtomic(filepath.Join(dir, journalEpoch), epoch); err != nil {
			return nil, err
		}
	}
	j.epoch = string(epoch)
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// A line cut short by a crash is dropped.
	if err := f.Truncate(j.size); err != nil {
		_ = f.Close()
		return nil, err
	}
	if _, err := f.Seek(j.size, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, err
	}
	j.f = f
	go j.write()
	return j, nil
}

// readJournal returns a journal file's whole lines and their size.
func readJournal(path string) ([]gateways.RequestFact, int64, error) {
	f, err := os.Open(path) // #nosec G304 -- the agent's own state directory
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var out []gateways.RequestFact
	var good int64
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var fact gateways.RequestFact
			if json.Unmarshal(line, &fact) == nil {
				out = append(out, fact)
			}
			good += int64(len(line))
		}
		if err != nil {
			return out, good, nil
		}
	}
}

// Add queues a fact. It never blocks: when the queue is full (the disk
// cannot keep up) the fact is counted as dropped and the next written
// fact says how many were.
func (j *Journal) Add(f gateways.RequestFact) {
	select {
	case j.queue <- f:
	default:
		j.dropped.Add(1)
		j.lost.Add(1)
	}
}

func (j *Journal) write() {
	defer close(j.done)
	for {
		var batch []gateways.RequestFact
		select {
		case f := <-j.queue:
			batch = append(batch, f)
		case <-j.stop:
		}
	more:
		for len(batch) < 512 {
			select {
			case g := <-j.queue:
				batch = append(batch, g)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			if err := j.append(batch); err != nil {
				j.log.Error("writing the request journal", "error", err.Error())
			}
			continue
		}
		select {
		case <-j.stop:
			return
		default:
		}
	}
}

func (j *Journal) append(batch []gateways.RequestFact) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.size >= j.maxBytes {
		if err := j.rotate(); err != nil {
			return err
		}
	}
	var buf []byte
	for i := range batch {
		j.seq++
		batch[i].Seq = j.seq
		b, err := json.Marshal(batch[i])
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	if _, err := j.f.Write(buf); err != nil {
		return err
	}
	// Synced, so a power loss cannot hand out a seq twice.
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.size += int64(len(buf))
	j.recent = append(j.recent, batch...)
	if d := j.dropped.Swap(0); d > 0 {
		j.log.Warn("request facts dropped: the journal could not keep up", "dropped", d)
	}
	return nil
}

// rotate keeps one full file besides the live one: a follower further
// behind than both has missed facts, and Facts says from where.
func (j *Journal) rotate() error {
	if err := j.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(j.dir, journalFile), filepath.Join(j.dir, journalOldFile)); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(j.dir, journalFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	old, _, err := readJournal(filepath.Join(j.dir, journalOldFile))
	if err != nil {
		return err
	}
	j.f, j.size, j.recent = f, 0, old
	return nil
}

// Facts answers the audit follower.
func (j *Journal) Facts(q control.FactsQuery) control.Facts {
	if q.Limit <= 0 || q.Limit > 5000 {
		q.Limit = 5000
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := control.Facts{Last: j.seq, Oldest: j.seq + 1, Epoch: j.epoch, Dropped: j.lost.Load()}
	if len(j.recent) > 0 {
		out.Oldest = j.recent[0].Seq
	}
	// recent is in seq order: find the first fact after the cursor
	// rather than walk every one on each pull.
	from := sort.Search(len(j.recent), func(i int) bool { return j.recent[i].Seq > q.After })
	next := j.recent[from:min(from+q.Limit, len(j.recent))]
	out.Facts = append([]gateways.RequestFact(nil), next...)
	return out
}

// Close writes what is queued and closes the file. A fact added after it
// is not written.
func (j *Journal) Close() error {
	close(j.stop)
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}

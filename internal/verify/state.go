package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StateFile is the resumable state in the work dir.
const StateFile = "verify.state.json"

// stateSaveInterval bounds how often the state is written while chunks complete: a chunk done
// but not yet saved is simply compared again after a restart.
const stateSaveInterval = time.Second

// Phases recorded in the state.
const (
	phaseChunks  = "chunks"
	phaseRecheck = "recheck"
	phaseDone    = "done"
)

// state is what survives a restart: the chunk plan and which chunks are done, per table, and the
// candidate keys found so far.
type state struct {
	Fingerprint string                 `json:"fingerprint"`
	Phase       string                 `json:"phase"`
	Tables      map[string]*tableState `json:"tables"`
	saved       time.Time
}

type tableState struct {
	Chunks []chunk `json:"chunks,omitempty"`
	// Done has one byte per chunk, 1 when the chunk is compared.
	Done       []byte     `json:"done,omitempty"`
	Planned    bool       `json:"planned,omitempty"`
	RowsDone   int64      `json:"rows_done,omitempty"`
	Candidates [][][]byte `json:"candidates,omitempty"`
	WholeTable bool       `json:"whole_table,omitempty"` // key-less table whose checksums differ
	// TableChecksum is the outcome of the table checksum (tcEqual: the table is done, no chunks;
	// tcDifferent, tcUnavailable: compared by chunks, the checksum is not taken again on resume)
	// and TableChecksumNote its report note.
	TableChecksum     string `json:"table_checksum,omitempty"`
	TableChecksumNote string `json:"table_checksum_note,omitempty"`
}

// fingerprint identifies what a state belongs to: a state of another comparison is not resumed.
func (c Config) fingerprint() string {
	b, _ := json.Marshal(struct {
		S, T     string
		Sel      any
		Mode     string
		Chunk    int
		OnlyPrev bool
	}{c.Source.String(), c.Target.String(), c.Selection, c.Mode, c.ChunkSize, c.OnlyPreviousDifferences})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// loadState returns the state to resume, or a fresh one.
func loadState(dir, fp string) (*state, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &state{Fingerprint: fp, Phase: phaseChunks, Tables: map[string]*tableState{}}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read verify state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil || s.Fingerprint != fp || s.Phase == phaseDone || s.Tables == nil {
		// Unreadable, for another comparison, or finished: a new run starts from scratch.
		return &state{Fingerprint: fp, Phase: phaseChunks, Tables: map[string]*tableState{}}, false, nil
	}
	return &s, true, nil
}

// writeFileAtomic writes data to path via a temporary file, fsync and rename.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// saveState writes the state if force or the save interval has passed. Callers do not hold v.mu.
func (v *Verifier) saveState(force bool) error {
	v.mu.Lock()
	if v.state == nil {
		v.mu.Unlock()
		return nil
	}
	if !force && time.Since(v.state.saved) < stateSaveInterval {
		v.mu.Unlock()
		return nil
	}
	v.state.saved = time.Now()
	b, err := json.Marshal(v.state)
	v.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode verify state: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(v.workDir, StateFile), b); err != nil {
		return fmt.Errorf("write verify state: %w", err)
	}
	return nil
}

func markDone(ts *tableState, i int) {
	if len(ts.Done) < len(ts.Chunks) {
		ts.Done = append(ts.Done, make([]byte, len(ts.Chunks)-len(ts.Done))...)
	}
	ts.Done[i] = 1
}

func isDone(ts *tableState, i int) bool { return i < len(ts.Done) && ts.Done[i] == 1 }

package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/omsdev/oms/internal/binlog"
)

// Consumers is the registry of consumer checkpoints (consumers.json in the segment dir), which
// retention honours. Safe for concurrent use.
type Consumers struct {
	path   string
	flavor string
	mu     sync.Mutex
	m      map[string]*consumerState
}

type consumerState struct {
	set     binlog.GTIDSet
	Updated time.Time `json:"updated"`
}

// ConsumerInfo is one consumer as listed by GET /v1/consumers.
type ConsumerInfo struct {
	ID         string    `json:"id"`
	Checkpoint string    `json:"checkpoint"`
	Updated    time.Time `json:"updated"`
}

type consumerFile struct {
	Checkpoint string    `json:"checkpoint"`
	Updated    time.Time `json:"updated"`
}

// OpenConsumers loads the registry in dir.
func OpenConsumers(dir, flavor string) (*Consumers, error) {
	c := &Consumers{path: filepath.Join(dir, "consumers.json"), flavor: flavor, m: map[string]*consumerState{}}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read consumers: %w", err)
	}
	var f map[string]consumerFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read %s: %w", c.path, err)
	}
	for id, x := range f {
		set, err := binlog.ParseGTIDSet(flavor, x.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("read %s: consumer %s: %w", c.path, id, err)
		}
		c.m[id] = &consumerState{set: set, Updated: x.Updated}
	}
	return c, nil
}

func (c *Consumers) saveLocked() error {
	f := make(map[string]consumerFile, len(c.m))
	for id, s := range c.m {
		f[id] = consumerFile{Checkpoint: s.set.String(), Updated: s.Updated}
	}
	b, _ := json.MarshalIndent(f, "", " ")
	if err := writeFileSync(c.path, b); err != nil {
		return fmt.Errorf("save consumers: %w", err)
	}
	return nil
}

// Register sets a consumer's checkpoint to where it starts reading.
func (c *Consumers) Register(id string, from binlog.GTIDSet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = &consumerState{set: from.Clone(), Updated: time.Now().UTC()}
	return c.saveLocked()
}

// Ack moves a consumer's checkpoint forward (never back: an old ack arriving late is ignored).
func (c *Consumers) Ack(id string, set binlog.GTIDSet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[id]
	if !ok {
		s = &consumerState{set: set.Clone()}
		c.m[id] = s
	} else if err := s.set.Union(set); err != nil {
		return fmt.Errorf("ack consumer %s: %w", id, err)
	}
	s.Updated = time.Now().UTC()
	return c.saveLocked()
}

// Remove unregisters a consumer.
func (c *Consumers) Remove(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	return c.saveLocked()
}

// List returns the consumers sorted by id.
func (c *Consumers) List() []ConsumerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ConsumerInfo, 0, len(c.m))
	for id, s := range c.m {
		out = append(out, ConsumerInfo{ID: id, Checkpoint: s.set.String(), Updated: s.Updated})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// notCovering returns the ids of consumers whose checkpoint does not contain set.
func (c *Consumers) notCovering(set binlog.GTIDSet) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id, s := range c.m {
		if !s.set.ContainsSet(set) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// RetentionPolicy says what the Store keeps.
type RetentionPolicy struct {
	// Hours keeps segments whose newest transaction is younger than this (0 = no time limit).
	Hours float64
	// Bytes keeps at most this many segment bytes (0 = no size limit).
	Bytes int64
	// MaxHours is the hard maximum: older data goes even if a consumer still needs it
	// (0 = consumers are always honoured).
	MaxHours float64
	// MaxBytes is the hard maximum of disk use (0 = none).
	MaxBytes int64
}

// Purge removes sealed segments the policy no longer keeps, oldest first. A segment a registered
// consumer has not acknowledged stays unless it is past a hard maximum; then it goes with a Warn
// log line and forced counts it. It returns the number of segments removed and forced.
func (l *Log) Purge(p RetentionPolicy, cons *Consumers, logger *slog.Logger, now time.Time) (removed, forced int, err error) {
	for {
		l.mu.RLock()
		var total int64
		for _, s := range l.segs {
			total += s.size
		}
		var s *segment
		if len(l.segs) > 1 && l.segs[0].sealed {
			s = l.segs[0]
		}
		l.mu.RUnlock()
		if s == nil {
			return removed, forced, nil
		}
		age := now.Sub(unixTime(s.last)).Hours()
		wanted := (p.Hours > 0 && age > p.Hours) || (p.Bytes > 0 && total > p.Bytes)
		hard := (p.MaxHours > 0 && age > p.MaxHours) || (p.MaxBytes > 0 && total > p.MaxBytes)
		if !wanted && !hard {
			return removed, forced, nil
		}
		var waiting []string
		if cons != nil {
			waiting = cons.notCovering(s.own)
		}
		if len(waiting) > 0 && !hard {
			return removed, forced, nil
		}
		if len(waiting) > 0 {
			forced++
			logger.Warn("retention removes a segment consumers have not read: it is past the hard maximum",
				"segment", filepath.Base(s.path), "consumers", waiting, "age_hours", age, "total_bytes", total,
				"max_hours", p.MaxHours, "max_bytes", p.MaxBytes)
		}
		if err := l.dropOldest(s); err != nil {
			return removed, forced, err
		}
		removed++
	}
}

// dropOldest records the segment's GTIDs as purged (durably) and then deletes its files.
func (l *Log) dropOldest(s *segment) error {
	l.mu.Lock()
	if len(l.segs) == 0 || l.segs[0] != s {
		l.mu.Unlock()
		return nil
	}
	_ = l.purged.Union(s.own)
	l.meta.PurgedBytes += s.size
	if err := l.writeMeta(); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("record purge of %s: %w", s.path, err)
	}
	l.segs = l.segs[1:]
	l.mu.Unlock()
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove segment %s: %w", s.path, err)
	}
	_ = os.Remove(s.indexPath())
	return nil
}

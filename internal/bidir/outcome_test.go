package bidir_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/verify"
)

// recorded is one row of a direction's incr_conflict.
type recorded struct {
	gtid           string
	row            int
	kind, decision string
	srcRegion, dst string
	source, target sql.NullString // JSON images
}

// recordedConflicts reads what the Incr-Sync of src -> dst recorded on dst.
func recordedConflicts(t *testing.T, src, dst *region) []recorded {
	t.Helper()
	rows, err := dst.inst.DB().Query("SELECT gtid, row_no, kind, decision, source_region, target_region, source_image, target_image FROM __oms.incr_conflict WHERE task_id = ?", incrTask(src, dst))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []recorded
	for rows.Next() {
		var c recorded
		if err := rows.Scan(&c.gtid, &c.row, &c.kind, &c.decision, &c.srcRegion, &c.dst, &c.source, &c.target); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lwwDecision is what the pair's policy decides on the recorded images: the ver of the source's
// image against the target row's (none: nothing to compare).
func (c recorded) lwwDecision(t *testing.T, cfg conflict.Config) conflict.Decision {
	t.Helper()
	ver := func(img sql.NullString) (int64, bool) {
		if !img.Valid {
			return 0, false
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(img.String), &m); err != nil {
			t.Fatalf("conflict %s row %d: image %q: %v", c.gtid, c.row, img.String, err)
		}
		s, ok := m["ver"].(string)
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("conflict %s row %d: ver %q: %v", c.gtid, c.row, s, err)
		}
		return v, true
	}
	sv, sok := ver(c.source)
	tv, tok := ver(c.target)
	cs := conflict.Case{Kind: conflict.Kind(c.kind), SourceRegion: c.srcRegion, TargetRegion: c.dst, CmpKnown: sok && tok}
	switch {
	case sv > tv:
		cs.Cmp = 1
	case sv < tv:
		cs.Cmp = -1
	}
	return conflict.Decide(cfg.RuleFor(appDB, "t"), cfg.Priority, cs)
}

// verifyRegions runs a full verification (the verify component's chunk comparison, every row,
// no table checksum shortcut, no re-checks: the writers have stopped) of app between hz and hl.
func verifyRegions(t *testing.T, w *twoWay) *verify.Report {
	t.Helper()
	recheck := 0
	cfg := verify.Config{
		Source:        mysqlconn.Config{Host: "127.0.0.1", Port: w.hz.inst.Port, User: "root"},
		Target:        mysqlconn.Config{Host: "127.0.0.1", Port: w.hl.inst.Port, User: "root"},
		Selection:     selection.Config{Tables: []selection.Rule{{DB: appDB}}},
		TableChecksum: verify.TableChecksumOff, RecheckRounds: &recheck,
	}
	v, err := verify.New(cfg, t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := v.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.Run(ctx); err != nil {
		t.Fatalf("verify: %v", err)
	}
	rep := v.Result()
	if rep == nil || !rep.Equal || rep.Compared == 0 {
		t.Fatalf("verification after the run: %+v", rep)
	}
	return rep
}

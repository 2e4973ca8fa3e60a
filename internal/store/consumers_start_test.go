package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

func TestOldestPosition(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want string // "" = none
	}{
		{"none", nil, ""},
		{"one", []string{"0-1-5"}, "0-1-5"},
		{"ordered", []string{"0-1-9", "0-1-5", "0-1-7"}, "0-1-5"},
		{"two domains", []string{"0-1-9,1-1-4", "0-1-5,1-1-4"}, "0-1-5,1-1-4"},
		{"not ordered", []string{"0-1-9,1-1-2", "0-1-5,1-1-4"}, ""},
		{"unparsable", []string{"0-1-5", "bogus"}, ""},
		{"empty position", []string{"0-1-5", ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := oldestPosition("mariadb", tc.in)
			if (tc.want == "") == ok || (ok && got.String() != tc.want) {
				t.Fatalf("oldestPosition(%q) = %v %v, want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

// TestFreshLogStartsAtOldestConsumer: a Store whose segment directory is empty (it moved to
// another node) with consumer positions from the MetaDB captures from ConsumerSlack transactions
// before the oldest of them, not from its configured start (the project's start), and serves a
// consumer from there, and one whose checkpoint is a little behind its reported position (an
// Incr-Sync reports its watermark before its checkpoint records it).
func TestFreshLogStartsAtOldestConsumer(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "movedstore")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	projectStart := gtidNow(t, inst)
	var marks []string
	for i := 1; i <= 3; i++ {
		if _, err := inst.DB().ExecContext(ctx, "CREATE TABLE IF NOT EXISTS `"+db+"`.t (id INT PRIMARY KEY); INSERT INTO `"+db+"`.t VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
		marks = append(marks, gtidNow(t, inst))
	}
	spec := component.Spec{Kind: Kind, TaskID: t.Name(), WorkDir: t.TempDir(), ConsumerPositions: []string{marks[2], marks[1]}}
	st, err := NewWithConfig(spec, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: projectStart}, Listen: "127.0.0.1:0", ConsumerSlack: 1}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartUnit(t, st)
	deadline := time.Now().Add(20 * time.Second)
	for !st.log.HasBase() {
		if time.Now().After(deadline) {
			t.Fatal("the store never started its log")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	want := binlog.MustParseGTIDSet("mariadb", marks[1]).Rewind(1)
	if base := st.log.Base(); !base.Equal(want) || !base.ContainsSet(binlog.MustParseGTIDSet("mariadb", marks[0])) {
		t.Fatalf("the moved store starts at %s, want one transaction before the oldest consumer position %s (project start %s)", base, marks[1], projectStart)
	}
	behind, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "incr-behind", From: want.String()})
	if err != nil {
		t.Fatalf("consumer one transaction behind its reported position %s: %v", marks[1], err)
	}
	behind.Close()
	t.Logf("project start %s, consumers at %s and %s: the store starts at %s", projectStart, marks[2], marks[1], st.log.Base())
	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "incr", From: marks[1]})
	if err != nil {
		t.Fatalf("consumer at %s: %v", marks[1], err)
	}
	defer r.Close()
	if txns := readN(t, ctx, r, 1); txns[0].GTID == "" || !strings.HasSuffix(marks[2], "-"+strings.Split(txns[0].GTID, "-")[2]) {
		t.Fatalf("first transaction after %s is %s, want the one that made %s", marks[1], txns[0].GTID, marks[2])
	}
}

// TestConsumerPositionPurged: when the source no longer has the binlogs after the consumers'
// position, the moved Store stops with STORE_SOURCE_PURGED naming that position.
func TestConsumerPositionPurged(t *testing.T) {
	inst := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	projectStart := gtidNow(t, inst)
	if _, err := inst.DB().ExecContext(ctx, "CREATE DATABASE p1; DROP DATABASE p1"); err != nil {
		t.Fatal(err)
	}
	consumer := gtidNow(t, inst)
	if _, err := inst.DB().ExecContext(ctx, "CREATE DATABASE p2; DROP DATABASE p2; FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	var file string
	row := inst.DB().QueryRowContext(ctx, "SHOW MASTER STATUS")
	cols := []any{&file, new(any), new(any), new(any)}
	if err := row.Scan(cols...); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.DB().ExecContext(ctx, "PURGE BINARY LOGS TO '"+file+"'"); err != nil {
		t.Fatal(err)
	}
	spec := component.Spec{Kind: Kind, TaskID: t.Name(), WorkDir: t.TempDir(), ConsumerPositions: []string{consumer}}
	st, err := NewWithConfig(spec, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: projectStart}, Listen: "127.0.0.1:0", ConsumerSlack: 1}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Init(ctx)
	start := binlog.MustParseGTIDSet("mariadb", consumer).Rewind(1).String() // ConsumerSlack before it
	if omserr.CodeOf(err) != omserr.StoreSourcePurged || !strings.Contains(err.Error(), start) {
		t.Fatalf("init at purged position %s (consumer at %s): %v, want %s naming it", start, consumer, err, omserr.StoreSourcePurged)
	}
	t.Logf("refused: %v", err)
}

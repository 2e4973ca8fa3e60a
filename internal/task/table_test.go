package task_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/task"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newTable returns a tasks table in a fresh cm database built by the real migrations.
func newTable(t *testing.T) *task.Table {
	t.Helper()
	m := metadbtest.Fresh(t)
	return task.NewTable(m.DB, m.Names.CM)
}

func get(t *testing.T, tb *task.Table, id string) task.Task {
	t.Helper()
	got, ok, err := tb.Get(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("get %s: ok=%v err=%v", id, ok, err)
	}
	return got
}

func assign(t *testing.T, tb *task.Table, cur task.Task, host string) task.Task {
	t.Helper()
	if _, ok, err := tb.Assign(context.Background(), cur, host); err != nil || !ok {
		t.Fatalf("assign %s from %s/%d to %s: ok=%v err=%v", cur.ID, cur.Host, cur.Epoch, host, ok, err)
	}
	return get(t, tb, cur.ID)
}

// movedTwice creates task id and gives it the history h1 (epoch 1) -> h2 (2) -> h1 (3), so the
// same host appears with a stale and the current epoch. The current owner has reported RUNNING.
func movedTwice(t *testing.T, tb *task.Table, id string) task.Task {
	t.Helper()
	ctx := context.Background()
	if err := tb.Ensure(ctx, id, "np_1", task.KindIncrSync, "r1", map[string]string{"store_addr": "a:1"}); err != nil {
		t.Fatal(err)
	}
	cur := get(t, tb, id)
	for _, h := range []string{"h1", "h2", "h1"} {
		cur = assign(t, tb, cur, h)
	}
	if ok, err := tb.Report(ctx, id, "h1", 3, task.Running, "h1:7000", 0, &component.Status{State: component.StateRunning, Position: "p1"}); err != nil || !ok {
		t.Fatalf("owner's report: ok=%v err=%v", ok, err)
	}
	cur = get(t, tb, id)
	if cur.Host != "h1" || cur.Epoch != 3 || cur.State != task.Running || cur.Addr != "h1:7000" {
		t.Fatalf("setup: got %+v", cur)
	}
	return cur
}

// TestEpochCompareAndSet is the fencing guarantee: every write that goes through the epoch
// compare-and-set (assignment, a supervisor's report, marking released) lands only for the
// current (host, epoch); a writer holding a stale or made-up epoch changes nothing.
func TestEpochCompareAndSet(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	writers := map[string]func(id, host string, epoch int64) (bool, error){
		"assign": func(id, host string, epoch int64) (bool, error) {
			_, ok, err := tb.Assign(ctx, task.Task{ID: id, Host: host, Epoch: epoch}, "h9")
			return ok, err
		},
		"report": func(id, host string, epoch int64) (bool, error) {
			return tb.Report(ctx, id, host, epoch, task.Failed, "h9:1", 5, &component.Status{State: component.StateFailed, Position: "stale"})
		},
		"mark-released": func(id, host string, epoch int64) (bool, error) {
			return tb.MarkReleased(ctx, task.Task{ID: id, Host: host, Epoch: epoch})
		},
	}
	cases := []struct {
		name  string
		host  string
		epoch int64
		wins  bool
	}{
		{"current owner", "h1", 3, true},
		{"same host, stale epoch", "h1", 1, false},
		{"earlier owner, its epoch", "h2", 2, false},
		{"other host, current epoch", "h2", 3, false},
		{"current host, future epoch", "h1", 4, false},
		{"unplaced view of a placed task", "", 0, false},
	}
	n := 0
	for wname, write := range writers {
		for _, c := range cases {
			t.Run(wname+"/"+c.name, func(t *testing.T) {
				n++
				id := fmt.Sprintf("t%d", n)
				before := movedTwice(t, tb, id)
				ok, err := write(id, c.host, c.epoch)
				if err != nil {
					t.Fatal(err)
				}
				if ok != c.wins {
					t.Fatalf("%s with %s/%d: won=%v, want %v", wname, c.host, c.epoch, ok, c.wins)
				}
				after := get(t, tb, id)
				if !c.wins {
					if !reflect.DeepEqual(before, after) {
						t.Fatalf("a losing %s changed the row:\nbefore %+v\nafter  %+v", wname, before, after)
					}
					return
				}
				switch wname {
				case "assign":
					if after.Host != "h9" || after.Epoch != 4 || after.State != task.Assigned || after.Addr != "" {
						t.Fatalf("after winning assign: %+v", after)
					}
				case "report":
					if after.Epoch != 3 || after.State != task.Failed || after.Addr != "h9:1" || after.Status == nil || after.Status.Position != "stale" {
						t.Fatalf("after winning report: %+v", after)
					}
				case "mark-released":
					if after.Epoch != 3 || after.State != task.Released {
						t.Fatalf("after winning mark-released: %+v", after)
					}
				}
			})
		}
	}
}

// TestAssignRace: CMs that read the same row and assign at once give the task to one host only.
func TestAssignRace(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	if err := tb.Ensure(ctx, "race", "np_1", task.KindStore, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	seen := get(t, tb, "race")
	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := tb.Assign(ctx, seen, fmt.Sprintf("h%d", i))
			if err != nil {
				t.Error(err)
			}
			won[i] = ok
		}()
	}
	wg.Wait()
	winner := -1
	for i, ok := range won {
		if ok {
			if winner >= 0 {
				t.Fatalf("both h%d and h%d won the same epoch", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("nobody won")
	}
	got := get(t, tb, "race")
	if got.Host != fmt.Sprintf("h%d", winner) || got.Epoch != 1 {
		t.Fatalf("row %+v, want host h%d epoch 1", got, winner)
	}
}

// TestReportUnchangedIsStillOwned: a report that changes nothing affects no row, yet the owner
// must not be told it lost the task (the supervisor would stop a healthy component).
func TestReportUnchangedIsStillOwned(t *testing.T) {
	tb := newTable(t)
	cur := movedTwice(t, tb, "same")
	ok, err := tb.Report(context.Background(), "same", "h1", 3, task.Running, "", 0, nil)
	if err != nil || !ok {
		t.Fatalf("unchanged report: ok=%v err=%v", ok, err)
	}
	if got := get(t, tb, "same"); got.Addr != cur.Addr || !reflect.DeepEqual(got.Status, cur.Status) {
		t.Fatalf("an empty addr and nil status must keep the recorded ones: got %+v, had %+v", got, cur)
	}
}

// TestProjectLifecycle walks the statements the orchestrator, the CM and the console use.
func TestProjectLifecycle(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tb.Ensure(ctx, "np_a-store", "np_a", task.KindStore, "src", map[string]int{"v": 1}))
	must(tb.Ensure(ctx, "np_a-store", "np_a", task.KindStore, "src", map[string]int{"v": 2})) // exists: keeps its spec
	must(tb.Ensure(ctx, "np_a-incr-sync", "np_a", task.KindIncrSync, "dst", map[string]int{"v": 1}))
	must(tb.Ensure(ctx, "np_b-full-import", "np_b", task.KindFullImport, "dst", map[string]int{"v": 1}))

	st := get(t, tb, "np_a-store")
	if st.State != task.Pending || st.Desired != task.DesiredRunning || st.Host != "" || st.Epoch != 0 || string(st.Spec.Config) != `{"v": 1}` && string(st.Spec.Config) != `{"v":1}` {
		t.Fatalf("ensured task: %+v (spec %s)", st, st.Spec.Config)
	}
	if _, ok, err := tb.Get(ctx, "nope"); err != nil || ok {
		t.Fatalf("missing task: ok=%v err=%v", ok, err)
	}

	ids := func(ts []task.Task, err error) []string {
		t.Helper()
		must(err)
		out := []string{}
		for _, x := range ts {
			out = append(out, x.ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		got  []string
		want []string
	}{
		{"all", ids(tb.List(ctx, "")), []string{"np_a-incr-sync", "np_a-store", "np_b-full-import"}},
		{"project a", ids(tb.List(ctx, "np_a")), []string{"np_a-incr-sync", "np_a-store"}},
		{"region dst", ids(tb.InRegion(ctx, "dst")), []string{"np_a-incr-sync", "np_b-full-import"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}

	// Placed on two hosts; the store finishes, the incr-sync fails.
	assign(t, tb, st, "h1")
	incr := assign(t, tb, get(t, tb, "np_a-incr-sync"), "h2")
	assign(t, tb, get(t, tb, "np_b-full-import"), "h2")
	if got := ids(tb.OnHost(ctx, "h2")); !reflect.DeepEqual(got, []string{"np_a-incr-sync", "np_b-full-import"}) {
		t.Fatalf("on h2: %v", got)
	}
	if _, err := tb.Report(ctx, "np_a-store", "h1", 1, task.Finished, "", 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Report(ctx, "np_a-incr-sync", "h2", 1, task.Failed, "", 8, nil); err != nil {
		t.Fatal(err)
	}
	perHost, err := tb.CountByHost(ctx)
	must(err)
	if !reflect.DeepEqual(perHost, map[string]int{"h2": 2}) {
		t.Fatalf("count by host: %v (finished tasks do not count)", perHost)
	}

	must(tb.RetryFailed(ctx, "np_a"))
	if got := get(t, tb, "np_a-incr-sync"); got.State != task.Assigned || got.Epoch != incr.Epoch {
		t.Fatalf("retried task: %+v", got)
	}
	spec, _ := json.Marshal(map[string]string{"store_addr": "h3:1"})
	must(tb.SetSpec(ctx, "np_a-incr-sync", task.Spec{Config: spec}))
	var cfg map[string]string
	must(json.Unmarshal(get(t, tb, "np_a-incr-sync").Spec.Config, &cfg))
	if cfg["store_addr"] != "h3:1" {
		t.Fatalf("spec after SetSpec: %v", cfg)
	}

	// Release: desired RELEASED; the project's tasks go once every placed one reports RELEASED.
	must(tb.SetDesired(ctx, "np_a", task.DesiredReleased))
	for _, x := range ids(tb.List(ctx, "np_a")) {
		if d := get(t, tb, x).Desired; d != task.DesiredReleased {
			t.Fatalf("%s desired %s", x, d)
		}
	}
	if d := get(t, tb, "np_b-full-import").Desired; d != task.DesiredRunning {
		t.Fatalf("another project's task changed: desired %s", d)
	}
	open := func() int {
		t.Helper()
		n, err := tb.CountPlacedUnreleased(ctx, "np_a")
		must(err)
		return n
	}
	if n := open(); n != 2 {
		t.Fatalf("open tasks %d, want 2", n)
	}
	for _, x := range []struct {
		id, host string
	}{{"np_a-store", "h1"}, {"np_a-incr-sync", "h2"}} {
		if ok, err := tb.Report(ctx, x.id, x.host, 1, task.Released, "", 0, nil); err != nil || !ok {
			t.Fatalf("release %s: ok=%v err=%v", x.id, ok, err)
		}
	}
	if n := open(); n != 0 {
		t.Fatalf("open tasks %d, want 0", n)
	}
	must(tb.DeleteProject(ctx, "np_a"))
	if got := ids(tb.List(ctx, "")); !reflect.DeepEqual(got, []string{"np_b-full-import"}) {
		t.Fatalf("after delete: %v", got)
	}
}

func TestActive(t *testing.T) {
	for _, c := range []struct {
		state   task.State
		desired task.Desired
		want    bool
	}{
		{task.Assigned, task.DesiredRunning, true},
		{task.Running, task.DesiredRunning, true},
		{task.Stopped, task.DesiredStopped, true},
		{task.Failed, task.DesiredRunning, true},
		{task.Finished, task.DesiredRunning, false},
		{task.Released, task.DesiredReleased, false},
		{task.Running, task.DesiredReleased, false},
	} {
		if got := (task.Task{State: c.state, Desired: c.desired}).Active(); got != c.want {
			t.Errorf("state %s desired %s: Active=%v, want %v", c.state, c.desired, got, c.want)
		}
	}
}

// TestConsumerPositions: a Store's consumers are the Incr-Sync tasks of its project and direction
// (same id prefix); their reported positions are listed, other projects', other directions' (a
// switchover's reverse Store reads another server) and other kinds' are not, unreported ones are
// skipped.
func TestConsumerPositions(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	for _, c := range []struct{ id, project, kind, pos string }{
		{"pa-incr-sync", "pa", task.KindIncrSync, "0-1-10"},
		{"pa-store", "pa", task.KindStore, "0-1-99"},
		{"pa-g1-incr-sync", "pa", task.KindIncrSync, "0-2-7"},
		{"pa-g1-store", "pa", task.KindStore, ""},
		{"pa-g2-incr-sync", "pa", task.KindIncrSync, ""},
		{"pa-g2-store", "pa", task.KindStore, ""},
		{"pb-incr-sync", "pb", task.KindIncrSync, "0-1-20"},
	} {
		if err := tb.Ensure(ctx, c.id, c.project, c.kind, "r1", map[string]string{}); err != nil {
			t.Fatal(err)
		}
		cur := assign(t, tb, get(t, tb, c.id), "h1")
		if c.pos != "" {
			if ok, err := tb.Report(ctx, c.id, "h1", cur.Epoch, task.Running, "", 0, &component.Status{Position: c.pos}); err != nil || !ok {
				t.Fatalf("report %s: %v %v", c.id, ok, err)
			}
		}
	}
	for store, want := range map[string][]string{"pa-store": {"0-1-10"}, "pa-g1-store": {"0-2-7"}, "pa-g2-store": nil} {
		got, err := tb.ConsumerPositions(ctx, get(t, tb, store))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("ConsumerPositions(%s) = %v, %v; want %v", store, got, err, want)
		}
	}
}

// TestReleaseOneTask: Release retires one task; pausing and resuming the project (SetDesired)
// never revives it, releasing the project keeps it released.
func TestReleaseOneTask(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	for _, id := range []string{"pr-store", "pr-g1-store"} {
		if err := tb.Ensure(ctx, id, "pr", task.KindStore, "r1", map[string]string{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Release(ctx, "pr-store"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []task.Desired{task.DesiredStopped, task.DesiredRunning} {
		if err := tb.SetDesired(ctx, "pr", d); err != nil {
			t.Fatal(err)
		}
		if got := get(t, tb, "pr-store").Desired; got != task.DesiredReleased {
			t.Fatalf("after SetDesired(%s) the released task is %s", d, got)
		}
		if got := get(t, tb, "pr-g1-store").Desired; got != d {
			t.Fatalf("after SetDesired(%s) the live task is %s", d, got)
		}
	}
	if err := tb.SetDesired(ctx, "pr", task.DesiredReleased); err != nil {
		t.Fatal(err)
	}
	if got := get(t, tb, "pr-g1-store").Desired; got != task.DesiredReleased {
		t.Fatalf("project release left %s", got)
	}
	if err := tb.Delete(ctx, "pr-store"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := tb.Get(ctx, "pr-store"); ok || err != nil {
		t.Fatalf("deleted task still there: %v %v", ok, err)
	}
}

// TestReportAllFencesEachRow: a supervisor's batch of reports (more than one statement holds)
// lands for each task still at the reporting host and the report's epoch, and changes nothing of
// a task that moved on (another host, or this host at a newer epoch); an empty addr and a nil
// status keep the recorded ones.
func TestReportAllFencesEachRow(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	var reports []task.Report
	for i := range 120 {
		id := fmt.Sprintf("b%03d", i)
		if err := tb.Ensure(ctx, id, "np_b", task.KindStore, "r1", struct{}{}); err != nil {
			t.Fatal(err)
		}
		cur := assign(t, tb, get(t, tb, id), "h1")
		reports = append(reports, task.Report{ID: id, Epoch: cur.Epoch, State: task.Running, Addr: "h1:" + id, Restarts: 1,
			Status: &component.Status{State: component.StateRunning, Position: "pos-" + id}})
	}
	moved := assign(t, tb, get(t, tb, "b007"), "h2")                      // another host now
	again := assign(t, tb, assign(t, tb, get(t, tb, "b042"), "h2"), "h1") // back here, newer epoch
	reports[9].Addr, reports[9].Status = "", nil                          // keeps b009's recorded ones
	if _, err := tb.Report(ctx, "b009", "h1", reports[9].Epoch, task.Assigned, "h1:old", 0, &component.Status{Position: "old"}); err != nil {
		t.Fatal(err)
	}
	n, err := tb.ReportAll(ctx, "h1", reports)
	if err != nil {
		t.Fatal(err)
	}
	if n != 118 {
		t.Errorf("ReportAll changed %d rows, want 118 (120 less the two that moved on)", n)
	}
	for _, r := range reports {
		got := get(t, tb, r.ID)
		switch r.ID {
		case "b007", "b042":
			want := map[string]task.Task{"b007": moved, "b042": again}[r.ID]
			if got.State != task.Assigned || got.Host != want.Host || got.Epoch != want.Epoch || got.Status != nil {
				t.Errorf("%s moved on (now %s/%d) yet the stale report landed: %+v", r.ID, want.Host, want.Epoch, got)
			}
		case "b009":
			if got.State != task.Running || got.Restarts != 1 || got.Addr != "h1:old" || got.Status == nil || got.Status.Position != "old" {
				t.Errorf("b009: %+v, want RUNNING with the recorded addr and status", got)
			}
		default:
			if got.State != task.Running || got.Restarts != 1 || got.Addr != r.Addr || got.Status == nil || got.Status.Position != r.Status.Position {
				t.Errorf("%s: %+v, want the report %+v", r.ID, got, r)
			}
		}
	}
}

// TestPlacementsDigest: a project's placement digest changes when a task moves or changes state,
// not when its owner reports a new position.
func TestPlacementsDigest(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	digest := func() string {
		t.Helper()
		d, err := tb.Placements(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d["np_1"]
	}
	cur := movedTwice(t, tb, "pl")
	d0 := digest()
	if _, err := tb.Report(ctx, "pl", "h1", cur.Epoch, task.Running, "", 0, &component.Status{State: component.StateRunning, Position: "p2"}); err != nil {
		t.Fatal(err)
	}
	if d := digest(); d != d0 {
		t.Errorf("a new position changed the digest: %s -> %s", d0, d)
	}
	assign(t, tb, get(t, tb, "pl"), "h2")
	if d := digest(); d == d0 {
		t.Errorf("a move left the digest as it was: %s", d)
	}
}

package metrics

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

var nameRE = regexp.MustCompile(`^oms_[a-z]+(_[a-z]+)*_(seconds|bytes|total|txns|rows|percent|records|done|chunks|objects|streams|points|up|restarts|firing)$`)

// Every exported name follows oms_<component>_<what>_<unit>.
func TestNames(t *testing.T) {
	var names []string
	for kind, m := range statusSeries {
		for key, s := range m {
			if s.Counter != strings.HasSuffix(s.Name, "_total") {
				t.Errorf("%s %s: counters end in _total, gauges do not: %s", kind, key, s.Name)
			}
			names = append(names, s.Name)
		}
		names = append(names, LagSeries(kind).Name)
	}
	names = append(names, IncrApplyLatencySeconds, IncrErrorsTotal, IncrChangesTotal, ComponentUp, ComponentRestarts, HostCPUPercent,
		HostMemoryUsedBytes, HostDiskTotalBytes, TSDBPointsTotal, TSDBDroppedTotal, AuditSinkFailures, AlertFiring, AlertNotifications)
	for _, n := range names {
		if !nameRE.MatchString(n) {
			t.Errorf("%s does not follow oms_<component>_<what>_<unit>", n)
		}
	}
	if s, ok := StatusSeries("incr-sync", "rows_per_sec"); ok {
		t.Errorf("a derived rate is exported: %+v", s)
	}
	if s, _ := StatusSeries("full-import", "new_figure"); s.Name != "oms_full_import_new_figure" {
		t.Errorf("unmapped figure: %+v", s)
	}
}

func TestAddLabelsMergeFlatten(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: IncrChangesTotal, Help: "h"}, []string{LabelTable, LabelOp, LabelTask})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: IncrApplyLatencySeconds, Help: "h", Buckets: []float64{0.1, 1}})
	reg.MustRegister(c, h)
	c.WithLabelValues("shop.t1", OpInsert, "t1").Add(3)
	h.Observe(0.5)
	h.Observe(2)
	a, _ := reg.Gather()
	AddLabels(a, map[string]string{LabelProject: "p1", LabelTask: "ignored", LabelHost: "10.0.0.1"})
	b := []*dto.MetricFamily{{Name: proto.String(IncrChangesTotal), Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{{
		Label: []*dto.LabelPair{{Name: proto.String(LabelTask), Value: proto.String("t2")}}, Counter: &dto.Counter{Value: proto.Float64(7)}}}}}
	all := Merge(a, b)
	at := time.Unix(1700000000, 0)
	pts := Flatten(all, at)
	if len(pts) != 3 {
		t.Fatalf("points %+v", pts)
	}
	var got []string
	for _, p := range pts {
		got = append(got, p.Key()+" "+fieldsString(p.Fields))
	}
	want := []string{
		"oms_incr_sync_apply_latency_seconds,host=10.0.0.1,project=p1,task=ignored count=2 sum=2.5",
		"oms_incr_sync_changes_total,host=10.0.0.1,op=insert,project=p1,table=shop.t1,task=t1 value=3",
		"oms_incr_sync_changes_total,task=t2 value=7",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if pts[1].Tag(LabelTask) != "t1" || pts[1].Tag("nope") != "" {
		t.Fatal("Tag lookup")
	}
}

func fieldsString(fs []Field) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Key+"="+strconv.FormatFloat(f.Value, 'g', -1, 64))
	}
	return strings.Join(parts, " ")
}

// The window keeps every sample for the last hour and one a minute for a day, and forgets
// series that stopped reporting a day ago.
func TestWindow(t *testing.T) {
	w := NewWindow()
	start := time.Unix(1700000000, 0).Truncate(time.Minute)
	pt := func(at time.Time, task string, v float64) Point {
		return Point{Name: IncrLagSeconds, Tags: []Tag{{LabelProject, "p1"}, {LabelTask, task}}, Fields: []Field{{"value", v}}, Time: at}
	}
	// 3 hours of samples every 10 s for task a; task b reports once at the start only.
	w.Add([]Point{pt(start, "b", 1)})
	var last time.Time
	for i := 0; i < 3*360; i++ {
		last = start.Add(time.Duration(i) * 10 * time.Second)
		w.Add([]Point{pt(last, "a", float64(i))})
	}
	got := w.Query(WindowQuery{Names: []string{IncrLagSeconds}, Match: map[string]string{LabelTask: "a"}})
	if len(got) != 1 {
		t.Fatalf("series %d", len(got))
	}
	s := got[0].Samples
	fine := 0
	for _, v := range s {
		if v.Time >= last.Add(-WindowFineSpan).Unix() {
			fine++
		}
	}
	if fine != 361 || len(s) != 361+120 {
		t.Fatalf("fine %d total %d; want 361 fine (one hour at 10 s) and the 120 minutes before it", fine, len(s))
	}
	for i := 1; i < len(s); i++ {
		if s[i].Time <= s[i-1].Time {
			t.Fatalf("not in time order at %d: %v %v", i, s[i-1], s[i])
		}
	}
	if s[0].Value != 5 || s[0].Time != start.Add(50*time.Second).Unix() {
		t.Fatalf("a minute keeps its last sample: %+v", s[0])
	}
	if q := w.Query(WindowQuery{Since: last.Add(-time.Minute)}); len(q) != 1 || len(q[0].Samples) != 7 {
		t.Fatalf("since: %+v", q)
	}
	// a day later, b is gone
	w.Add([]Point{pt(start.Add(25*time.Hour), "a", 0)})
	if q := w.Query(WindowQuery{Match: map[string]string{LabelTask: "b"}}); len(q) != 0 {
		t.Fatalf("stale series kept: %+v", q)
	}
}

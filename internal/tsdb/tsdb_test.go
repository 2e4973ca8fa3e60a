package tsdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLine(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	for name, tc := range map[string]struct {
		p    metrics.Point
		want string
	}{
		"gauge": {metrics.Point{Name: "oms_incr_sync_lag_seconds", Tags: []metrics.Tag{{Key: "host", Value: "10.0.0.1"}, {Key: "task", Value: "t1"}},
			Fields: []metrics.Field{{Key: "value", Value: 1.5}}, Time: at}, `oms_incr_sync_lag_seconds,host=10.0.0.1,task=t1 value=1.5 1700000000123`},
		"escapes": {metrics.Point{Name: "m x", Tags: []metrics.Tag{{Key: "table", Value: "d b.t,=x"}}, Fields: []metrics.Field{{Key: "value", Value: 2}}, Time: at},
			`m\ x,table=d\ b.t\,\=x value=2 1700000000123`},
		"empty tag dropped, histogram fields": {metrics.Point{Name: "h", Tags: []metrics.Tag{{Key: "project", Value: ""}, {Key: "task", Value: "t"}},
			Fields: []metrics.Field{{Key: "count", Value: 3}, {Key: "sum", Value: 0.25}}, Time: at}, `h,task=t count=3,sum=0.25 1700000000123`},
		"newline in a value": {metrics.Point{Name: "m", Tags: []metrics.Tag{{Key: "table", Value: "a\nb"}}, Fields: []metrics.Field{{Key: "value", Value: 1}}, Time: at},
			`m,table=a\ b value=1 1700000000123`},
	} {
		if got := string(Line(tc.p)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, tc.want)
		}
	}
	if Line(metrics.Point{Name: "m"}) != nil {
		t.Error("a point without fields must not be encoded")
	}
}

func TestCheck(t *testing.T) {
	in := testenv.StartInfluxDB(t, "omsmon", "Influx-pw-1")
	ctx := context.Background()
	if err := Check(ctx, in.Addr, "omsmon", "Influx-pw-1"); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	if err := Check(ctx, "http://"+in.Addr, "omsmon", "Influx-pw-1"); err != nil {
		t.Fatalf("http:// prefix: %v", err)
	}
	err := Check(ctx, in.Addr, "omsmon", "wrong")
	if omserr.CodeOf(err) != "DEPLOY_TSDB_AUTH" || !strings.Contains(err.Error(), `refuses user "omsmon"`) {
		t.Fatalf("bad password: %v", err)
	}
	err = Check(ctx, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "omsmon", "Influx-pw-1")
	if omserr.CodeOf(err) != "DEPLOY_TSDB_UNREACHABLE" {
		t.Fatalf("nothing listening: %v", err)
	}
}

// The writer creates its database and writes batches a real InfluxDB stores with their tags.
func TestWriterRealInfluxDB(t *testing.T) {
	in := testenv.StartInfluxDB(t, "omsmon", "Influx-pw-1")
	w := NewWriter(WriterConfig{URL: in.Addr, Username: in.User, Password: "Influx-pw-1", Interval: 50 * time.Millisecond, Batch: 7}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	now := time.Now()
	var pts []metrics.Point
	for i := range 20 {
		pts = append(pts, metrics.Point{Name: metrics.IncrRowsTotal, Tags: []metrics.Tag{{Key: "host", Value: "10.0.0.1"}, {Key: "project", Value: "p1"}, {Key: "region", Value: "r1"}, {Key: "task", Value: "p1-incr"}},
			Fields: []metrics.Field{{Key: "value", Value: float64(i)}}, Time: now.Add(time.Duration(i-20) * time.Second)})
	}
	w.Add(pts)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := in.Query(t, DefaultDatabase, `SELECT count(value) FROM `+metrics.IncrRowsTotal+` GROUP BY *`)
		if len(s) == 1 && len(s[0].Values) == 1 && s[0].Values[0][1] == float64(20) {
			if s[0].Tags["project"] != "p1" || s[0].Tags["task"] != "p1-incr" || s[0].Tags["region"] != "r1" || s[0].Tags["host"] != "10.0.0.1" {
				t.Fatalf("tags: %v", s[0].Tags)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("InfluxDB never held the 20 points: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := counter(w.written); got != 20 {
		t.Fatalf("written counter %v", got)
	}
	cancel()
	<-done
}

// A TSDB that hangs or is gone never blocks Add; the buffer stays bounded and drops are counted.
func TestWriterDownOrSlowNeverBlocks(t *testing.T) {
	arrived := make(chan struct{}, 100)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer hang.Close()
	defer close(release)
	in := testenv.StartInfluxDB(t, "omsmon", "Influx-pw-1")
	in.Stop()
	for name, addr := range map[string]string{"hanging": hang.URL, "stopped": in.Addr} {
		t.Run(name, func(t *testing.T) {
			w := NewWriter(WriterConfig{URL: addr, Username: "u", Password: "p", Interval: 10 * time.Millisecond, MaxPoints: 10, Timeout: time.Minute}, quiet)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go w.Run(ctx) //nolint:errcheck // returns nil
			w.Add(points(5))
			if name == "hanging" {
				select {
				case <-arrived: // the writer is now stuck in a request
				case <-time.After(10 * time.Second):
					t.Fatal("writer never called the server")
				}
			}
			addDone := make(chan struct{})
			go func() {
				for range 5 {
					w.Add(points(5))
				}
				close(addDone)
			}()
			select {
			case <-addDone:
			case <-time.After(10 * time.Second):
				t.Fatal("Add blocked while the TSDB is " + name)
			}
			if d := counter(w.dropped); d != 20 {
				t.Fatalf("dropped %v, want 20 (30 added, 10 kept)", d)
			}
			w.mu.Lock()
			n := len(w.lines)
			w.mu.Unlock()
			if n != 10 {
				t.Fatalf("buffer holds %d, want the bound 10", n)
			}
		})
	}
}

func points(n int) []metrics.Point {
	out := make([]metrics.Point, n)
	for i := range out {
		out[i] = metrics.Point{Name: "m", Fields: []metrics.Field{{Key: "value", Value: float64(i)}}, Time: time.Now()}
	}
	return out
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

package metrics

import (
	"sort"
	"sync"
	"time"
)

// Window spans: the console's charts work without a time-series database from what each node
// keeps here — every sample for the last hour, one a minute for the last day. History beyond
// that needs InfluxDB (tsdb_enabled).
const (
	WindowFineSpan   = time.Hour
	WindowCoarseStep = time.Minute
	WindowSpan       = 24 * time.Hour
)

// Sample is one value of a series.
type Sample struct {
	Time  int64   `json:"t"` // unix seconds
	Value float64 `json:"v"`
}

// SeriesData is one series of a window query.
type SeriesData struct {
	Name    string            `json:"name"`
	Labels  map[string]string `json:"labels"`
	Samples []Sample          `json:"samples"`
}

// WindowQuery selects series: by name (empty: all), by labels that must match, from Since.
type WindowQuery struct {
	Names []string
	Match map[string]string
	Since time.Time
}

// Window is a node's recent history of its own series, in memory. Safe for concurrent use.
type Window struct {
	mu     sync.Mutex
	series map[string]*windowSeries
}

type windowSeries struct {
	name   string
	labels map[string]string
	fine   []Sample // every sample of the last WindowFineSpan
	coarse []Sample // the last sample of each minute, older than the fine part, up to WindowSpan
	last   time.Time
}

// NewWindow returns an empty window.
func NewWindow() *Window { return &Window{series: map[string]*windowSeries{}} }

// Add records points (a histogram's fields become <name>_count and <name>_sum) and drops what
// is older than the window.
func (w *Window) Add(pts []Point) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var now time.Time
	for _, p := range pts {
		if p.Time.After(now) {
			now = p.Time
		}
		for _, f := range p.Fields {
			name := p.Name
			if f.Key != "value" {
				name += "_" + f.Key
			}
			key := name + "|" + p.Key()
			s := w.series[key]
			if s == nil {
				s = &windowSeries{name: name, labels: map[string]string{}}
				for _, t := range p.Tags {
					s.labels[t.Key] = t.Value
				}
				w.series[key] = s
			}
			s.add(Sample{p.Time.Unix(), f.Value}, p.Time)
		}
	}
	for k, s := range w.series {
		if now.Sub(s.last) > WindowSpan {
			delete(w.series, k)
		}
	}
}

func (s *windowSeries) add(v Sample, at time.Time) {
	s.last = at
	s.fine = append(s.fine, v)
	cut := at.Add(-WindowFineSpan).Unix()
	i := 0
	for i < len(s.fine) && s.fine[i].Time < cut {
		old := s.fine[i]
		if n := len(s.coarse); n > 0 && s.coarse[n-1].Time/60 == old.Time/60 {
			s.coarse[n-1] = old // keep the minute's last sample
		} else {
			s.coarse = append(s.coarse, old)
		}
		i++
	}
	if i > 0 {
		s.fine = append(s.fine[:0:0], s.fine[i:]...)
	}
	oldest := at.Add(-WindowSpan).Unix()
	j := 0
	for j < len(s.coarse) && s.coarse[j].Time < oldest {
		j++
	}
	if j > 0 {
		s.coarse = append(s.coarse[:0:0], s.coarse[j:]...)
	}
}

// Query returns the matching series, oldest sample first, sorted by name then labels.
func (w *Window) Query(q WindowQuery) []SeriesData {
	names := map[string]bool{}
	for _, n := range q.Names {
		names[n] = true
	}
	since := q.Since.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []SeriesData{}
	for _, s := range w.series {
		if len(names) > 0 && !names[s.name] {
			continue
		}
		ok := true
		for lk, lv := range q.Match {
			if s.labels[lk] != lv {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		d := SeriesData{Name: s.name, Labels: s.labels}
		for _, part := range [][]Sample{s.coarse, s.fine} {
			for _, v := range part {
				if v.Time >= since {
					d.Samples = append(d.Samples, v)
				}
			}
		}
		if len(d.Samples) > 0 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return labelString(out[i].Labels) < labelString(out[j].Labels)
	})
	return out
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += k + "=" + m[k] + ","
	}
	return s
}

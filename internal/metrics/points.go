package metrics

import (
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Tag is one label of a point.
type Tag struct{ Key, Value string }

// Field is one value of a point: "value" for counters and gauges, "count" and "sum" for
// histograms and summaries.
type Field struct {
	Key   string
	Value float64
}

// Point is one series' values at one time, as InfluxDB stores it (measurement = Name).
type Point struct {
	Name   string
	Tags   []Tag // sorted by key
	Fields []Field
	Time   time.Time
}

// Key identifies the point's series (name and tags).
func (p Point) Key() string {
	var b strings.Builder
	b.WriteString(p.Name)
	for _, t := range p.Tags {
		b.WriteByte(',')
		b.WriteString(t.Key)
		b.WriteByte('=')
		b.WriteString(t.Value)
	}
	return b.String()
}

// Tag returns the value of tag k ("" when absent).
func (p Point) Tag(k string) string {
	for _, t := range p.Tags {
		if t.Key == k {
			return t.Value
		}
	}
	return ""
}

// Flatten turns a gather into points stamped at: one per metric, NaN and Inf values left out
// (neither line protocol nor JSON carries them).
func Flatten(mfs []*dto.MetricFamily, at time.Time) []Point {
	var out []Point
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			p := Point{Name: mf.GetName(), Time: at, Tags: make([]Tag, 0, len(m.Label))}
			for _, lp := range m.Label {
				p.Tags = append(p.Tags, Tag{lp.GetName(), lp.GetValue()})
			}
			sort.Slice(p.Tags, func(i, j int) bool { return p.Tags[i].Key < p.Tags[j].Key })
			switch {
			case m.Counter != nil:
				p.Fields = addField(p.Fields, "value", m.Counter.GetValue())
			case m.Gauge != nil:
				p.Fields = addField(p.Fields, "value", m.Gauge.GetValue())
			case m.Untyped != nil:
				p.Fields = addField(p.Fields, "value", m.Untyped.GetValue())
			case m.Histogram != nil:
				p.Fields = addField(p.Fields, "count", float64(m.Histogram.GetSampleCount()))
				p.Fields = addField(p.Fields, "sum", m.Histogram.GetSampleSum())
			case m.Summary != nil:
				p.Fields = addField(p.Fields, "count", float64(m.Summary.GetSampleCount()))
				p.Fields = addField(p.Fields, "sum", m.Summary.GetSampleSum())
			}
			if len(p.Fields) > 0 {
				out = append(out, p)
			}
		}
	}
	return out
}

func addField(fs []Field, k string, v float64) []Field {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fs
	}
	return append(fs, Field{k, v})
}

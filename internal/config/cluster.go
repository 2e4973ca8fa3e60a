package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A cluster file holds the config.yaml of every region, one YAML document per region separated
// by a line `---` (the seed's two sample files, concatenated, are a valid cluster file). A
// directory of *.yaml files, one region each, is read the same way in name order.

// Region is one region's document in a cluster file.
type Region struct {
	Source string // file name, plus "#n" for the n-th document of a multi-document file
	Offset int    // line offset of the document inside its file (add to Problem.Line)
	Result *Result
}

// Cluster is every region of a deployment.
type Cluster struct {
	Regions []Region
}

// ClusterProblem is a Problem located in one region's document ("" for the whole cluster).
type ClusterProblem struct {
	Source string
	Problem
}

func (p ClusterProblem) String() string {
	if p.Source == "" {
		return p.Problem.String()
	}
	return p.Source + ": " + p.Problem.String()
}

// ParseCluster splits text into region documents and parses each one.
func ParseCluster(data []byte, name string) *Cluster {
	c := &Cluster{}
	docs, offsets := splitDocuments(data)
	for i, d := range docs {
		src := name
		if len(docs) > 1 {
			src = fmt.Sprintf("%s#%d", name, i+1)
		}
		r := Parse(d)
		for j := range r.Problems {
			if r.Problems[j].Line > 0 {
				r.Problems[j].Line += offsets[i]
			}
		}
		for k, l := range r.Lines {
			r.Lines[k] = l + offsets[i]
		}
		c.Regions = append(c.Regions, Region{Source: src, Offset: offsets[i], Result: r})
	}
	return c
}

// splitDocuments cuts YAML text at lines that are exactly `---`; blank documents are dropped.
func splitDocuments(data []byte) (docs [][]byte, offsets []int) {
	lines := bytes.Split(data, []byte("\n"))
	start := 0
	flush := func(end int) {
		doc := bytes.Join(lines[start:end], []byte("\n"))
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
			offsets = append(offsets, start)
		}
	}
	for i, l := range lines {
		if strings.TrimRight(string(l), " \r") == "---" {
			flush(i)
			start = i + 1
		}
	}
	flush(len(lines))
	if len(docs) == 0 {
		docs, offsets = [][]byte{data}, []int{0}
	}
	return docs, offsets
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, t...)
		}
	}
	return out
}

// LoadCluster reads a cluster file, a single config.yaml, or a directory of *.yaml files.
func LoadCluster(path string) (*Cluster, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster config %s: %w", path, err)
	}
	if !st.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read cluster config %s: %w", path, err)
		}
		return ParseCluster(data, path), nil
	}
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(path, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("read cluster config: directory %s has no *.yaml file", path)
	}
	c := &Cluster{}
	for _, f := range files {
		sub, err := LoadCluster(f)
		if err != nil {
			return nil, err
		}
		c.Regions = append(c.Regions, sub.Regions...)
	}
	return c, nil
}

// Problems returns every region's own problems followed by the cross-region ones.
func (c *Cluster) Problems() []ClusterProblem {
	var out []ClusterProblem
	for _, r := range c.Regions {
		for _, p := range r.Result.Problems {
			out = append(out, ClusterProblem{Source: r.Source, Problem: p})
		}
	}
	return append(out, c.crossRegion()...)
}

// OK reports whether no problem is an error.
func (c *Cluster) OK() bool {
	for _, p := range c.Problems() {
		if p.Severity == SevError {
			return false
		}
	}
	return true
}

// Err lists every error problem in one error, or nil.
func (c *Cluster) Err() error {
	var lines []string
	for _, p := range c.Problems() {
		if p.Severity == SevError {
			lines = append(lines, p.String())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("cluster config has %d error(s):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// Configs returns the regions' configs, the default region first, the others in file order.
func (c *Cluster) Configs() []Config {
	var out []Config
	for _, r := range c.Regions {
		if r.Result.Config.CMIsDefault {
			out = append(out, r.Result.Config)
		}
	}
	for _, r := range c.Regions {
		if !r.Result.Config.CMIsDefault {
			out = append(out, r.Result.Config)
		}
	}
	return out
}

// sharedKeys must hold the same value in every region: one MetaDB, shared rm and cm databases,
// one time-series database for the whole cluster (the guide's tsdb_url note).
var sharedKeys = []string{
	"oms_meta_host", "oms_meta_port", "oms_meta_user", "oms_meta_password",
	"drc_rm_db", "drc_cm_db",
	"tsdb_enabled", "tsdb_service", "tsdb_url", "tsdb_username", "tsdb_password",
}

func sharedValue(c Config, key string) string {
	switch key {
	case "oms_meta_host":
		return c.MetaHost
	case "oms_meta_port":
		return fmt.Sprint(c.MetaPort)
	case "oms_meta_user":
		return c.MetaUser
	case "oms_meta_password":
		return c.MetaPassword.Reveal()
	case "drc_rm_db":
		return c.RMDB
	case "drc_cm_db":
		return c.CMDB
	case "tsdb_enabled":
		return fmt.Sprint(c.TSDBEnabled)
	case "tsdb_service":
		return c.TSDBService
	case "tsdb_url":
		return c.TSDBURL
	case "tsdb_username":
		return c.TSDBUsername
	case "tsdb_password":
		return c.TSDBPassword.Reveal()
	}
	return ""
}

func isSecretKey(k string) bool { return strings.HasSuffix(k, "_password") }

// crossRegion applies the multi-region rules of the guide: exactly one cm_is_default; cm_location,
// cm_region, drc_cm_heartbeat_db and cm_url unique per region; a node IP in one region only; the
// MetaDB, the rm/cm databases and the time-series database the same everywhere.
func (c *Cluster) crossRegion() []ClusterProblem {
	var out []ClusterProblem
	if len(c.Regions) == 0 {
		return []ClusterProblem{{Problem: Problem{Severity: SevError, Key: "(file)", Message: "no region in the cluster config", Advice: "give one config.yaml document per region"}}}
	}
	add := func(r Region, key, msg, advice string) {
		out = append(out, ClusterProblem{Source: r.Source, Problem: Problem{
			Severity: SevError, Key: key, Line: r.Result.Lines[key], Message: msg, Advice: advice}})
	}
	var defaults []string
	for _, r := range c.Regions {
		if r.Result.Config.CMIsDefault {
			defaults = append(defaults, r.Source)
		}
	}
	switch {
	case len(defaults) == 0:
		add(c.Regions[0], "cm_is_default", "no region has cm_is_default: true", "set cm_is_default: true in exactly one region (the one to access preferentially)")
	case len(defaults) > 1:
		for _, r := range c.Regions {
			if r.Result.Config.CMIsDefault {
				msg := fmt.Sprintf("cm_is_default is true in %d regions (%s)", len(defaults), strings.Join(defaults, ", "))
				if _, given := r.Result.Lines["cm_is_default"]; !given {
					msg += "; it defaults to true when the key is left out"
				}
				add(r, "cm_is_default", msg, "set cm_is_default: true for only one region and false for all the others")
			}
		}
	}
	unique := func(key string, val func(Config) string, advice string) {
		first := map[string]string{}
		for _, r := range c.Regions {
			v := val(r.Result.Config)
			if v == "" {
				continue
			}
			if prev, dup := first[v]; dup {
				add(r, key, fmt.Sprintf("%q is also used by region %s", v, prev), advice)
				continue
			}
			first[v] = r.Source
		}
	}
	unique("cm_location", func(c Config) string { return fmt.Sprint(c.CMLocation) }, "give each region its own cm_location in [0,127]")
	unique("cm_region", func(c Config) string { return c.CMRegion }, "give each region its own region ID")
	unique("drc_cm_heartbeat_db", func(c Config) string { return c.HeartbeatDB }, "each region needs its own heartbeat database, e.g. oms_cm_hb_<cm_location>")
	unique("cm_url", func(c Config) string { return normalizeURL(c.CMURL) }, "each region's cm_url is that region's own VIP or domain name")

	nodeRegion := map[string]string{}
	for _, r := range c.Regions {
		for _, n := range r.Result.Config.CMNodes {
			n = strings.TrimSpace(n)
			if prev, dup := nodeRegion[n]; dup && prev != r.Source {
				add(r, "cm_nodes", fmt.Sprintf("node %s is also listed in region %s", n, prev), "a host belongs to exactly one region")
				continue
			}
			nodeRegion[n] = r.Source
		}
	}
	first := c.Regions[0]
	for _, r := range c.Regions[1:] {
		for _, k := range sharedKeys {
			a, b := sharedValue(first.Result.Config, k), sharedValue(r.Result.Config, k)
			if a == b {
				continue
			}
			msg := fmt.Sprintf("%q differs from %q in %s", b, a, first.Source)
			if isSecretKey(k) {
				msg = "differs from the value in " + first.Source
			}
			add(r, k, msg, "all regions share one MetaDB, the rm and cm databases and the time-series database: use the same value in every region")
		}
		// The rm/cm databases may not double as another region's heartbeat database.
		for _, o := range c.Regions {
			if hb := r.Result.Config.HeartbeatDB; hb != "" && (hb == o.Result.Config.RMDB || hb == o.Result.Config.CMDB) {
				add(r, "drc_cm_heartbeat_db", fmt.Sprintf("%q is the rm or cm database of region %s", hb, o.Source), "use a separate heartbeat database name")
				break
			}
		}
	}
	return out
}

func normalizeURL(u string) string {
	h, p, err := CMURLHostPort(u)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(u))
	}
	return fmt.Sprintf("%s:%d", strings.ToLower(h), p)
}

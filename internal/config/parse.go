package config

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// knownKeys are every key the file may hold, in the guide's order.
var knownKeys = []string{
	"oms_meta_host", "oms_meta_port", "oms_meta_user", "oms_meta_password",
	"oms_meta_tls_mode", "oms_meta_tls_ca",
	"drc_rm_db", "drc_cm_db", "drc_cm_heartbeat_db",
	"cm_url", "cm_location", "cm_region", "cm_region_cn", "cm_is_default", "cm_nodes",
	"tsdb_enabled", "tsdb_service", "tsdb_url", "tsdb_username", "tsdb_password",
	"ghana_server_port", "nginx_server_port", "cm_server_port", "supervisor_server_port",
	"https_key", "https_crt", "node_tls_crt", "node_tls_key",
	"audit_enabled", "audit_sink", "audit_file", "audit_http_url",
	"heartbeat_interval", "host_down_timeout",
}

var isKnown = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range knownKeys {
		m[k] = true
	}
	return m
}()

var (
	// key:value with no space after the colon (URLs like http://x are values, not this).
	noSpaceRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*):([^\s/].*)$`)
	// key: *****  (a masked password: YAML reads *name as an alias).
	maskedRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*):\s+(\*+)\s*(#.*)?$`)
)

// preScan fixes, in a copy of the text, the two line-level mistakes the guide's files invite, and
// reports each as a problem, so the YAML decoder can check everything else.
func preScan(data []byte) ([]byte, []Problem) {
	var probs []Problem
	lines := bytes.Split(data, []byte("\n"))
	for i, raw := range lines {
		line := strings.TrimRight(string(raw), "\r")
		if m := maskedRe.FindStringSubmatch(line); m != nil {
			probs = append(probs, Problem{
				Severity: SevError, Key: m[1], Line: i + 1,
				Message: "this looks like a masked placeholder",
				Advice:  "put the real password in quotes, e.g. " + m[1] + `: "s3cret"`,
			})
			lines[i] = []byte(m[1] + `: ""`)
			continue
		}
		if m := noSpaceRe.FindStringSubmatch(line); m != nil && isKnown[m[1]] {
			value := m[2]
			if isSecretKey(m[1]) {
				value = "<the password>" // the advice is printed: never echo a password
			}
			probs = append(probs, Problem{
				Severity: SevError, Key: m[1], Line: i + 1,
				Message: "missing space after the colon",
				Advice:  "write it as `" + m[1] + ": " + value + "` (the file format is `key: value`)",
			})
			lines[i] = []byte(m[1] + ": " + m[2])
		}
	}
	return bytes.Join(lines, []byte("\n")), probs
}

// decode parses the YAML into r.Config key by key, so one bad value does not hide the others.
func decode(data []byte, r *Result) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		r.Problems = append(r.Problems, Problem{
			Severity: SevError, Key: "(file)", Line: yamlErrLine(err),
			Message: "not valid YAML: " + err.Error(),
			Advice:  "each line must be `key: value`; cm_nodes is a list of `- ip` lines",
		})
		return
	}
	if len(doc.Content) == 0 {
		return // empty file: every required key is reported missing by validate
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		r.Problems = append(r.Problems, Problem{
			Severity: SevError, Key: "(file)", Line: root.Line,
			Message: "the file must be a mapping of `key: value` lines",
			Advice:  "see the template in docs/config.md",
		})
		return
	}
	targets := fieldTargets(&r.Config)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if prev, dup := r.Lines[key]; dup {
			r.Problems = append(r.Problems, Problem{
				Severity: SevError, Key: key, Line: k.Line,
				Message: fmt.Sprintf("key given twice (first on line %d)", prev),
				Advice:  "keep one of them",
			})
			continue
		}
		r.Lines[key] = k.Line
		target, ok := targets[key]
		if !ok {
			r.Problems = append(r.Problems, Problem{
				Severity: SevWarning, Key: key, Line: k.Line,
				Message: "unknown key, ignored",
				Advice:  suggest(key),
			})
			continue
		}
		if v.Kind == yaml.AliasNode {
			r.Problems = append(r.Problems, Problem{
				Severity: SevError, Key: key, Line: v.Line,
				Message: "value starts with * and YAML reads it as an alias",
				Advice:  "quote the value",
			})
			continue
		}
		if err := v.Decode(target); err != nil {
			r.Problems = append(r.Problems, Problem{
				Severity: SevError, Key: key, Line: v.Line,
				Message: "bad value: " + shortYAMLErr(err),
				Advice:  expectedOf(key),
			})
		}
	}
}

func fieldTargets(c *Config) map[string]any {
	return map[string]any{
		"oms_meta_host": &c.MetaHost, "oms_meta_port": &c.MetaPort, "oms_meta_user": &c.MetaUser,
		"oms_meta_password": &c.MetaPassword, "oms_meta_tls_mode": &c.MetaTLSMode, "oms_meta_tls_ca": &c.MetaTLSCA,
		"drc_rm_db": &c.RMDB, "drc_cm_db": &c.CMDB, "drc_cm_heartbeat_db": &c.HeartbeatDB,
		"cm_url": &c.CMURL, "cm_location": &c.CMLocation, "cm_region": &c.CMRegion,
		"cm_region_cn": &c.CMRegionCN, "cm_is_default": &c.CMIsDefault, "cm_nodes": &c.CMNodes,
		"tsdb_enabled": &c.TSDBEnabled, "tsdb_service": &c.TSDBService, "tsdb_url": &c.TSDBURL,
		"tsdb_username": &c.TSDBUsername, "tsdb_password": &c.TSDBPassword,
		"ghana_server_port": &c.GhanaPort, "nginx_server_port": &c.ConsolePort,
		"cm_server_port": &c.CMPort, "supervisor_server_port": &c.SupervisorPort,
		"https_key": &c.HTTPSKey, "https_crt": &c.HTTPSCrt, "node_tls_crt": &c.NodeTLSCrt, "node_tls_key": &c.NodeTLSKey,
		"audit_enabled": &c.AuditEnabled, "audit_sink": &c.AuditSink, "audit_file": &c.AuditFile,
		"audit_http_url":     &c.AuditHTTPURL,
		"heartbeat_interval": &c.HeartbeatInterval, "host_down_timeout": &c.HostDownTimeout,
	}
}

func expectedOf(key string) string {
	switch key {
	case "oms_meta_port", "ghana_server_port", "nginx_server_port", "cm_server_port", "supervisor_server_port":
		return "use a port number 1-65535"
	case "cm_location":
		return fmt.Sprintf("use an integer in [0,%d]", MaxCMLocation)
	case "cm_is_default", "tsdb_enabled":
		return "use true or false"
	case "cm_nodes":
		return "list the region's node IPs, one `- ip` line each"
	case "heartbeat_interval", "host_down_timeout":
		return "write a duration with its unit, e.g. 1s or 500ms"
	}
	return "use a plain string value (quote it if it has special characters)"
}

func shortYAMLErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n  ")
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "line ") {
		s = s[i+2:]
	}
	return s
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// suggest names the known key closest to an unknown one.
func suggest(key string) string {
	best, bestD := "", 4
	for _, k := range knownKeys {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return "did you mean " + best + "?"
	}
	keys := append([]string(nil), knownKeys...)
	sort.Strings(keys)
	return "known keys: " + strings.Join(keys, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Package config reads and checks a node's config.yaml, exactly the keys of the OMS deployment
// guide (MetaDB, database names, cluster/region, time-series database) plus the port and TLS keys.
//
// Parsing is forgiving where the guide's own files need it and strict everywhere else: the
// guide's samples mask passwords as `*********`, which YAML reads as an alias; `key:value`
// without a space is not a mapping in YAML. Both are reported as problems with key, line and
// advice, and the rest of the file is still checked, so one run lists every problem at once.
package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/omsdev/oms/internal/mysqlconn"
)

// Defaults from the guide's parameter table and port list.
const (
	DefaultTSDBService    = "INFLUXDB"
	DefaultGhanaPort      = 8090
	DefaultConsolePort    = 8089 // nginx_server_port: console UI + OpenAPI
	DefaultCMPort         = 8088
	DefaultSupervisorPort = 9000
	MaxCMLocation         = 127
	// DefaultHeartbeatInterval and DefaultHostDownTimeout: a dead node is noticed about 5 s after
	// its last beat and its components run elsewhere within 10 s; a live node has to miss five
	// beats in a row to be declared down, which a busy 2-core machine does not.
	DefaultHeartbeatInterval = Duration(time.Second)
	DefaultHostDownTimeout   = Duration(5 * time.Second)
)

// Config is one region's node configuration. Field names follow the file's keys.
type Config struct {
	MetaHost     string `yaml:"oms_meta_host"`
	MetaPort     int    `yaml:"oms_meta_port"`
	MetaUser     string `yaml:"oms_meta_user"`
	MetaPassword Secret `yaml:"oms_meta_password"`
	// MetaTLSMode is how the node's MetaDB connections use TLS (mysqlconn's modes; "" is
	// preferred); MetaTLSCA is a PEM file of the CA to trust for verify-ca and verify-identity.
	MetaTLSMode string `yaml:"oms_meta_tls_mode"`
	MetaTLSCA   string `yaml:"oms_meta_tls_ca"`

	RMDB        string `yaml:"drc_rm_db"`
	CMDB        string `yaml:"drc_cm_db"`
	HeartbeatDB string `yaml:"drc_cm_heartbeat_db"`

	CMURL       string   `yaml:"cm_url"`
	CMLocation  int      `yaml:"cm_location"`
	CMRegion    string   `yaml:"cm_region"`
	CMRegionCN  string   `yaml:"cm_region_cn"`
	CMIsDefault bool     `yaml:"cm_is_default"`
	CMNodes     []string `yaml:"cm_nodes"`

	TSDBEnabled  bool   `yaml:"tsdb_enabled"`
	TSDBService  string `yaml:"tsdb_service"`
	TSDBURL      string `yaml:"tsdb_url"`
	TSDBUsername string `yaml:"tsdb_username"`
	TSDBPassword Secret `yaml:"tsdb_password"`

	GhanaPort      int `yaml:"ghana_server_port"`
	ConsolePort    int `yaml:"nginx_server_port"`
	CMPort         int `yaml:"cm_server_port"`
	SupervisorPort int `yaml:"supervisor_server_port"`

	HTTPSKey string `yaml:"https_key"`
	HTTPSCrt string `yaml:"https_crt"`

	// NodeTLSCrt / NodeTLSKey: the operator's certificate (PEM, leaf then intermediates) and key
	// for this node's internal links, instead of one the node issues from the cluster CA
	// (docs/security.md). The same paths on every node, each holding that node's own files.
	NodeTLSCrt string `yaml:"node_tls_crt"`
	NodeTLSKey string `yaml:"node_tls_key"`

	// Export of audit records to an external sink (the audit table itself always exists).
	AuditEnabled bool   `yaml:"audit_enabled"`
	AuditSink    string `yaml:"audit_sink"`     // "file" or "http"
	AuditFile    string `yaml:"audit_file"`     // with audit_sink: file
	AuditHTTPURL string `yaml:"audit_http_url"` // with audit_sink: http

	// High availability: how often each node's supervisor beats, and how old its last beat may
	// get before the region's CM declares the host down and moves its components.
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	HostDownTimeout   Duration `yaml:"host_down_timeout"`
}

// Duration is a config duration written with its unit ("1s", "500ms", "1m").
type Duration time.Duration

// UnmarshalYAML reads "5s"-style text; a bare number is refused because its unit is ambiguous.
func (d *Duration) UnmarshalYAML(v *yaml.Node) error {
	x, err := time.ParseDuration(v.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration with a unit", v.Value)
	}
	*d = Duration(x)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MetaConn is the MetaDB endpoint of c as mysqlconn connects to it.
func (c Config) MetaConn() mysqlconn.Config {
	return mysqlconn.Config{Host: c.MetaHost, Port: c.MetaPort, User: c.MetaUser, Password: mysqlconn.Secret(c.MetaPassword.Reveal()),
		TLS: mysqlconn.TLS{Mode: mysqlconn.TLSMode(c.MetaTLSMode), CAFile: c.MetaTLSCA}}
}

// Secret is a password: it prints as ****** everywhere (fmt, slog, JSON of the config).
type Secret string

// Masked is how every secret is shown.
const Masked = "******"

func (s Secret) String() string               { return Masked }
func (s Secret) GoString() string             { return Masked }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(Masked) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(Masked), nil }

// Reveal returns the real value, for the one place that needs it (a driver's DSN).
func (s Secret) Reveal() string { return string(s) }

// Severity of a Problem.
type Severity string

const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
)

// Problem is one finding of the check: the key, its line (0 when the key is missing), what is
// wrong and what to do.
type Problem struct {
	Severity Severity
	Key      string
	Line     int
	Message  string
	Advice   string
}

func (p Problem) String() string {
	loc := p.Key
	if p.Line > 0 {
		loc = fmt.Sprintf("%s, line %d", p.Key, p.Line)
	}
	s := fmt.Sprintf("%s: %s: %s", p.Severity, loc, p.Message)
	if p.Advice != "" {
		s += "; " + p.Advice
	}
	return s
}

// Result is a loaded config with every problem found.
type Result struct {
	Config   Config
	Problems []Problem
	// Lines maps each top-level key present in the file to its line.
	Lines map[string]int
}

// OK reports whether the file has no error (warnings allowed).
func (r *Result) OK() bool {
	for _, p := range r.Problems {
		if p.Severity == SevError {
			return false
		}
	}
	return true
}

// Errors returns only the error-severity problems.
func (r *Result) Errors() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Severity == SevError {
			out = append(out, p)
		}
	}
	return out
}

// Err returns nil when OK, else one error listing every error problem.
func (r *Result) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, p := range errs {
		lines[i] = p.String()
	}
	return fmt.Errorf("config has %d error(s):\n  %s", len(errs), strings.Join(lines, "\n  "))
}

// LoadFile reads and checks a config file.
func LoadFile(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(data), nil
}

// Parse reads and checks config text; it never fails outright: problems are in the Result.
func Parse(data []byte) *Result {
	r := &Result{Lines: map[string]int{}}
	cleaned, pre := preScan(data)
	r.Problems = append(r.Problems, pre...)
	decode(cleaned, r)
	applyDefaults(r)
	validate(r)
	return r
}

// applyDefaults fills keys the file left out with the guide's defaults.
func applyDefaults(r *Result) {
	c := &r.Config
	has := func(k string) bool { _, ok := r.Lines[k]; return ok }
	if !has("cm_is_default") {
		c.CMIsDefault = true
	}
	if !has("tsdb_service") {
		c.TSDBService = DefaultTSDBService
	}
	if !has("cm_region_cn") {
		c.CMRegionCN = c.CMRegion
	}
	if c.GhanaPort == 0 {
		c.GhanaPort = DefaultGhanaPort
	}
	if c.ConsolePort == 0 {
		c.ConsolePort = DefaultConsolePort
	}
	if c.CMPort == 0 {
		c.CMPort = DefaultCMPort
	}
	if c.SupervisorPort == 0 {
		c.SupervisorPort = DefaultSupervisorPort
	}
	if !has("heartbeat_interval") {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if !has("host_down_timeout") {
		c.HostDownTimeout = DefaultHostDownTimeout
	}
}

// String prints the config with secrets masked (for `oms config show` and logs).
func (c Config) String() string {
	var b strings.Builder
	w := func(k string, v any) { fmt.Fprintf(&b, "%s: %v\n", k, v) }
	w("oms_meta_host", c.MetaHost)
	w("oms_meta_port", c.MetaPort)
	w("oms_meta_user", c.MetaUser)
	w("oms_meta_password", c.MetaPassword)
	if c.MetaTLSMode != "" || c.MetaTLSCA != "" {
		w("oms_meta_tls_mode", c.MetaTLSMode)
		w("oms_meta_tls_ca", c.MetaTLSCA)
	}
	w("drc_rm_db", c.RMDB)
	w("drc_cm_db", c.CMDB)
	w("drc_cm_heartbeat_db", c.HeartbeatDB)
	w("cm_url", c.CMURL)
	w("cm_location", c.CMLocation)
	w("cm_region", c.CMRegion)
	w("cm_region_cn", c.CMRegionCN)
	w("cm_is_default", c.CMIsDefault)
	b.WriteString("cm_nodes:\n")
	for _, n := range c.CMNodes {
		fmt.Fprintf(&b, " - %s\n", n)
	}
	w("tsdb_enabled", c.TSDBEnabled)
	w("tsdb_service", c.TSDBService)
	if c.TSDBEnabled {
		w("tsdb_url", c.TSDBURL)
		w("tsdb_username", c.TSDBUsername)
		w("tsdb_password", c.TSDBPassword)
	}
	w("ghana_server_port", c.GhanaPort)
	w("nginx_server_port", c.ConsolePort)
	w("cm_server_port", c.CMPort)
	w("supervisor_server_port", c.SupervisorPort)
	if c.HTTPSKey != "" || c.HTTPSCrt != "" {
		w("https_key", c.HTTPSKey)
		w("https_crt", c.HTTPSCrt)
	}
	if c.AuditEnabled {
		w("audit_enabled", c.AuditEnabled)
		w("audit_sink", c.AuditSink)
		if c.AuditFile != "" {
			w("audit_file", c.AuditFile)
		}
		if c.AuditHTTPURL != "" {
			w("audit_http_url", c.AuditHTTPURL)
		}
	}
	return b.String()
}

// LogValue keeps passwords out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("metadb", fmt.Sprintf("%s@%s:%d", c.MetaUser, c.MetaHost, c.MetaPort)),
		slog.String("region", c.CMRegion),
		slog.Int("cm_location", c.CMLocation),
		slog.String("cm_url", c.CMURL),
	)
}

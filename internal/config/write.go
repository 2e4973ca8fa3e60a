package config

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Format writes c as config.yaml text that Parse reads back to the same Config, passwords
// included (this is the file a node runs with: write it mode 0600). Keys follow the guide's
// order; optional keys are written only when they differ from their defaults.
func Format(c Config) []byte {
	var b bytes.Buffer
	b.WriteString("# Information about the OMS MetaDB\n")
	kv(&b, "oms_meta_host", str(c.MetaHost))
	kv(&b, "oms_meta_port", num(c.MetaPort))
	kv(&b, "oms_meta_user", str(c.MetaUser))
	kv(&b, "oms_meta_password", str(c.MetaPassword.Reveal()))
	if c.MetaTLSMode != "" {
		kv(&b, "oms_meta_tls_mode", str(c.MetaTLSMode))
	}
	if c.MetaTLSCA != "" {
		kv(&b, "oms_meta_tls_ca", str(c.MetaTLSCA))
	}
	b.WriteString("# rm and cm are shared by all regions; the heartbeat database is this region's own\n")
	kv(&b, "drc_rm_db", str(c.RMDB))
	kv(&b, "drc_cm_db", str(c.CMDB))
	kv(&b, "drc_cm_heartbeat_db", str(c.HeartbeatDB))
	fmt.Fprintf(&b, "# Region %s: cm_url is the region's VIP or domain name in front of all its CM servers\n", c.CMRegion)
	kv(&b, "cm_url", str(c.CMURL))
	kv(&b, "cm_location", num(c.CMLocation))
	kv(&b, "cm_region", str(c.CMRegion))
	kv(&b, "cm_region_cn", str(c.CMRegionCN))
	kv(&b, "cm_is_default", strconv.FormatBool(c.CMIsDefault))
	b.WriteString("cm_nodes:\n")
	for _, n := range c.CMNodes {
		fmt.Fprintf(&b, " - %s\n", str(n))
	}
	b.WriteString("# Time-series database\n")
	kv(&b, "tsdb_enabled", strconv.FormatBool(c.TSDBEnabled))
	svc := c.TSDBService
	if svc == "" {
		svc = DefaultTSDBService
	}
	kv(&b, "tsdb_service", str(svc))
	if c.TSDBEnabled || c.TSDBURL != "" {
		kv(&b, "tsdb_url", str(c.TSDBURL))
		kv(&b, "tsdb_username", str(c.TSDBUsername))
		kv(&b, "tsdb_password", str(c.TSDBPassword.Reveal()))
	}
	ports := []struct {
		k    string
		v, d int
	}{
		{"ghana_server_port", c.GhanaPort, DefaultGhanaPort},
		{"nginx_server_port", c.ConsolePort, DefaultConsolePort},
		{"cm_server_port", c.CMPort, DefaultCMPort},
		{"supervisor_server_port", c.SupervisorPort, DefaultSupervisorPort},
	}
	for _, p := range ports {
		if p.v != 0 && p.v != p.d {
			kv(&b, p.k, num(p.v))
		}
	}
	if c.HTTPSKey != "" || c.HTTPSCrt != "" {
		kv(&b, "https_key", str(c.HTTPSKey))
		kv(&b, "https_crt", str(c.HTTPSCrt))
	}
	if c.NodeTLSCrt != "" || c.NodeTLSKey != "" {
		kv(&b, "node_tls_crt", str(c.NodeTLSCrt))
		kv(&b, "node_tls_key", str(c.NodeTLSKey))
	}
	hb, down := cmp.Or(c.HeartbeatInterval, DefaultHeartbeatInterval), cmp.Or(c.HostDownTimeout, DefaultHostDownTimeout)
	if hb != DefaultHeartbeatInterval || down != DefaultHostDownTimeout {
		b.WriteString("# High availability: heartbeat period and how long a silent host stays up\n")
		kv(&b, "heartbeat_interval", hb.String())
		kv(&b, "host_down_timeout", down.String())
	}
	if c.AuditEnabled {
		b.WriteString("# Export of audit records (the audit table in the MetaDB always exists)\n")
		kv(&b, "audit_enabled", "true")
		kv(&b, "audit_sink", str(c.AuditSink))
		if c.AuditFile != "" {
			kv(&b, "audit_file", str(c.AuditFile))
		}
		if c.AuditHTTPURL != "" {
			kv(&b, "audit_http_url", str(c.AuditHTTPURL))
		}
	}
	return b.Bytes()
}

// FormatCluster writes several regions as one cluster file (documents separated by `---`).
func FormatCluster(cs []Config) []byte {
	var b bytes.Buffer
	for i, c := range cs {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(Format(c))
	}
	return b.Bytes()
}

func kv(b *bytes.Buffer, k, v string) { fmt.Fprintf(b, "%s: %s\n", k, v) }
func num(n int) string                { return strconv.Itoa(n) }

// str renders a string as a YAML scalar, quoted only when YAML would read it as something else.
func str(s string) string {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	out, err := yaml.Marshal(n)
	if err != nil {
		return strconv.Quote(s)
	}
	return string(bytes.TrimRight(out, "\n"))
}

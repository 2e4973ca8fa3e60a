package config

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/mysqlconn"
)

var requiredKeys = []string{
	"oms_meta_host", "oms_meta_port", "oms_meta_user", "oms_meta_password",
	"drc_rm_db", "drc_cm_db", "drc_cm_heartbeat_db",
	"cm_url", "cm_location", "cm_region", "cm_nodes",
}

var (
	hostnameRe = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	dbNameRe   = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)
	regionRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// validate applies the guide's rules; it appends to r.Problems.
func validate(r *Result) {
	c := &r.Config
	line := func(k string) int { return r.Lines[k] }
	add := func(sev Severity, key, msg, advice string) {
		r.Problems = append(r.Problems, Problem{Severity: sev, Key: key, Line: line(key), Message: msg, Advice: advice})
	}
	masked := map[string]bool{}
	for _, p := range r.Problems {
		if p.Message == "this looks like a masked placeholder" {
			masked[p.Key] = true
		}
	}

	for _, k := range requiredKeys {
		if _, ok := r.Lines[k]; !ok {
			add(SevError, k, "required key is missing", "add `"+k+": <value>` (see docs/config.md)")
		}
	}
	if _, ok := r.Lines["oms_meta_host"]; ok && !validHost(c.MetaHost) {
		add(SevError, "oms_meta_host", fmt.Sprintf("%q is not an IP address or host name", c.MetaHost), "give the MetaDB's address")
	}
	if _, ok := r.Lines["oms_meta_port"]; ok {
		checkPort(add, "oms_meta_port", c.MetaPort)
	}
	if _, ok := r.Lines["oms_meta_user"]; ok && strings.TrimSpace(c.MetaUser) == "" {
		add(SevError, "oms_meta_user", "is empty", "give the MetaDB user name")
	}
	if _, ok := r.Lines["oms_meta_password"]; ok && c.MetaPassword == "" && !masked["oms_meta_password"] {
		add(SevWarning, "oms_meta_password", "is empty", "a MetaDB account without a password is insecure")
	}

	dbs := map[string]string{}
	for _, k := range []string{"drc_rm_db", "drc_cm_db", "drc_cm_heartbeat_db"} {
		v := map[string]string{"drc_rm_db": c.RMDB, "drc_cm_db": c.CMDB, "drc_cm_heartbeat_db": c.HeartbeatDB}[k]
		if _, ok := r.Lines[k]; !ok {
			continue
		}
		if !dbNameRe.MatchString(v) {
			add(SevError, k, fmt.Sprintf("%q is not a valid database name", v), "use 1-64 letters, digits, _ or $")
			continue
		}
		if other, dup := dbs[v]; dup {
			add(SevError, k, fmt.Sprintf("database %q is also used by %s", v, other), "give each of drc_rm_db, drc_cm_db and drc_cm_heartbeat_db its own name")
		}
		dbs[v] = k
	}

	if _, ok := r.Lines["cm_location"]; ok && (c.CMLocation < 0 || c.CMLocation > MaxCMLocation) {
		add(SevError, "cm_location", fmt.Sprintf("%d is outside [0,%d]", c.CMLocation, MaxCMLocation), "choose a number in [0,127] that no other region uses")
	}
	if _, ok := r.Lines["cm_region"]; ok && !regionRe.MatchString(c.CMRegion) {
		add(SevError, "cm_region", fmt.Sprintf("%q is not a valid region ID", c.CMRegion), "use a region ID such as cn-hangzhou")
	}
	if _, ok := r.Lines["cm_region_cn"]; ok && c.CMRegionCN != c.CMRegion {
		add(SevWarning, "cm_region_cn", fmt.Sprintf("%q differs from cm_region %q", c.CMRegionCN, c.CMRegion), "the guide says cm_region_cn is the same as cm_region; set it equal or remove it")
	}

	if _, ok := r.Lines["cm_nodes"]; ok {
		if len(c.CMNodes) == 0 {
			add(SevError, "cm_nodes", "is empty", "list the IP of every node of this region, one `- ip` line each")
		}
		seen := map[string]bool{}
		for _, n := range c.CMNodes {
			n = strings.TrimSpace(n)
			if !validHost(n) {
				add(SevError, "cm_nodes", fmt.Sprintf("entry %q is not an IP address or host name", n), "list node IPs such as 10.0.0.5")
			}
			if seen[n] {
				add(SevError, "cm_nodes", fmt.Sprintf("entry %q is listed twice", n), "list each node once")
			}
			seen[n] = true
		}
	}
	validateHA(c, add)
	checkPort(add, "nginx_server_port", c.ConsolePort)
	checkPort(add, "cm_server_port", c.CMPort)
	checkPort(add, "supervisor_server_port", c.SupervisorPort)
	checkPort(add, "ghana_server_port", c.GhanaPort)
	if _, ok := r.Lines["cm_url"]; ok {
		validateCMURL(c, add)
	}

	validateMetaTLS(c, add)
	validateTSDB(r, add, masked)
	validateAudit(c, add)

	validatePair(add, "https_crt", c.HTTPSCrt, "https_key", c.HTTPSKey, "set both paths to enable TLS on the console, or neither")
	validatePair(add, "node_tls_crt", c.NodeTLSCrt, "node_tls_key", c.NodeTLSKey,
		"set both to use your own certificate for this node's internal links, or neither to let the node issue its own")
}

// validatePair checks a certificate and key path given together, and that the files exist here.
func validatePair(add adder, crtKey, crt, keyKey, key, advice string) {
	if (crt == "") != (key == "") {
		missing := crtKey
		if key == "" {
			missing = keyKey
		}
		add(SevError, missing, crtKey+" and "+keyKey+" must be given together", advice)
	}
	for _, f := range []struct{ k, p string }{{keyKey, key}, {crtKey, crt}} {
		if f.p != "" {
			if _, err := os.Stat(f.p); err != nil {
				add(SevWarning, f.k, fmt.Sprintf("file %s is not readable here: %v", f.p, err), "the file must exist on every node")
			}
		}
	}
}

type adder func(sev Severity, key, msg, advice string)

// Bounds of the HA timings.
const (
	MinHeartbeatInterval = 100 * time.Millisecond
	MaxHeartbeatInterval = 30 * time.Second
	MaxHostDownTimeout   = 10 * time.Minute
	// MinBeatsPerTimeout: a host is declared down only after this many beats in a row are missing,
	// so one slow heartbeat write never moves its components.
	MinBeatsPerTimeout = 3
)

func validateHA(c *Config, add adder) {
	hb, down := c.HeartbeatInterval.D(), c.HostDownTimeout.D()
	if hb < MinHeartbeatInterval || hb > MaxHeartbeatInterval {
		add(SevError, "heartbeat_interval", fmt.Sprintf("%s is outside [%s, %s]", hb, MinHeartbeatInterval, MaxHeartbeatInterval),
			fmt.Sprintf("use e.g. %s (the default)", DefaultHeartbeatInterval))
		return
	}
	if down < MinBeatsPerTimeout*hb || down > MaxHostDownTimeout {
		add(SevError, "host_down_timeout", fmt.Sprintf("%s is outside [%d x heartbeat_interval = %s, %s]", down, MinBeatsPerTimeout, MinBeatsPerTimeout*hb, MaxHostDownTimeout),
			fmt.Sprintf("a host must be able to miss %d beats before it is declared down; use e.g. %s (the default)", MinBeatsPerTimeout, DefaultHostDownTimeout))
	}
}

func checkPort(add adder, key string, p int) {
	if p < 1 || p > 65535 {
		add(SevError, key, fmt.Sprintf("port %d is outside 1-65535", p), "use a valid TCP port")
	}
}

// CMURLHostPort splits cm_url (http:// optional) into host and port; port 0 when absent.
func CMURLHostPort(u string) (host string, port int, err error) {
	s := strings.TrimSpace(u)
	for _, p := range []string{"http://", "https://"} {
		if strings.HasPrefix(strings.ToLower(s), p) {
			s = s[len(p):]
		}
	}
	s = strings.TrimSuffix(s, "/")
	if strings.Contains(s, "/") {
		return "", 0, fmt.Errorf("has a path")
	}
	if !strings.Contains(s, ":") || strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s, 0, nil // no port: a name, an IPv4 address or a bracketed IPv6 address
	}
	h, ps, splitErr := net.SplitHostPort(s)
	if splitErr != nil {
		return "", 0, splitErr
	}
	n, convErr := strconv.Atoi(ps)
	if convErr != nil || n < 1 || n > 65535 {
		return h, 0, fmt.Errorf("port %q is not a number in 1-65535", ps)
	}
	return h, n, nil
}

func validateCMURL(c *Config, add adder) {
	host, port, err := CMURLHostPort(c.CMURL)
	switch {
	case err != nil:
		add(SevError, "cm_url", fmt.Sprintf("%q is not a URL of the form http://VIP:%d (%v)", c.CMURL, c.CMPort, err), "give the region's VIP or domain name and the CM port")
		return
	case !validHost(host):
		add(SevError, "cm_url", fmt.Sprintf("host %q is not an IP address or host name", host), "give the region's VIP or domain name")
		return
	case port == 0:
		add(SevError, "cm_url", fmt.Sprintf("%q has no port", c.CMURL), fmt.Sprintf("add the CM port: http://%s:%d", host, c.CMPort))
		return
	case port != c.CMPort:
		add(SevError, "cm_url", fmt.Sprintf("port %d is not the CM port %d", port, c.CMPort), fmt.Sprintf("the VIP must map port %d to the CM; use http://%s:%d", c.CMPort, host, c.CMPort))
	}
	if isLoopback(host) && len(c.CMNodes) > 1 {
		add(SevWarning, "cm_url", fmt.Sprintf("%s is a loopback address but cm_nodes has %d nodes", host, len(c.CMNodes)), "other nodes cannot reach it; use the region's VIP or domain name")
	}
}

func validateTSDB(r *Result, add adder, masked map[string]bool) {
	c := &r.Config
	if _, ok := r.Lines["tsdb_service"]; ok {
		switch strings.ToUpper(c.TSDBService) {
		case "INFLUXDB":
			c.TSDBService = "INFLUXDB"
		case "CERESDB":
			add(SevError, "tsdb_service", "CERESDB is listed in the guide's table but not supported: only INFLUXDB is", "set tsdb_service: 'INFLUXDB'")
		default:
			add(SevError, "tsdb_service", fmt.Sprintf("%q is not supported", c.TSDBService), "set tsdb_service: 'INFLUXDB' (the only supported type)")
		}
	}
	if !c.TSDBEnabled {
		return
	}
	missing := func(key, v string) {
		if v == "" && !masked[key] {
			add(SevError, key, "is required when tsdb_enabled is true", "set it, or set tsdb_enabled: false")
		}
	}
	missing("tsdb_url", c.TSDBURL)
	missing("tsdb_username", c.TSDBUsername)
	missing("tsdb_password", string(c.TSDBPassword))
	if c.TSDBURL != "" {
		host, port, err := CMURLHostPort(c.TSDBURL)
		if err != nil || !validHost(host) || port == 0 {
			add(SevError, "tsdb_url", fmt.Sprintf("%q is not host:port", c.TSDBURL), "give the InfluxDB address, e.g. '10.0.0.9:8086'")
		}
	}
}

func validHost(s string) bool {
	if s == "" {
		return false
	}
	if net.ParseIP(s) != nil {
		return true
	}
	return len(s) <= 253 && hostnameRe.MatchString(s) && !ipLikeRe.MatchString(s)
}

// ipLikeRe matches names shaped like an IPv4 address that did not parse as one: 10.0.0.999, or
// the guide's placeholders xxx.xxx.xxx.xx1. They are typos or unreplaced placeholders, never a
// host name.
var ipLikeRe = regexp.MustCompile(`^[0-9xX]{1,3}(\.[0-9xX]{1,3}){3}$|^[0-9]+(\.[0-9]+)+$`)

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DatabaseNames applies the deployment wizard's prefix rule: prefix "oms" gives oms_rm, oms_cm
// and oms_cm_hb for the first region, oms_cm_hb_<cm_location> for each further region (rm and cm
// are shared by all regions; the heartbeat database is per region).
func DatabaseNames(prefix string, cmLocation int, firstRegion bool) (rm, cm, hb string, err error) {
	if !dbNameRe.MatchString(prefix) || len(prefix) > 50 {
		return "", "", "", fmt.Errorf("database name prefix %q: use 1-50 letters, digits, _ or $", prefix)
	}
	if cmLocation < 0 || cmLocation > MaxCMLocation {
		return "", "", "", fmt.Errorf("cm_location %d is outside [0,%d]", cmLocation, MaxCMLocation)
	}
	rm, cm, hb = prefix+"_rm", prefix+"_cm", prefix+"_cm_hb"
	if !firstRegion {
		hb = fmt.Sprintf("%s_%d", hb, cmLocation)
	}
	return rm, cm, hb, nil
}

// validateMetaTLS checks oms_meta_tls_mode and oms_meta_tls_ca.
func validateMetaTLS(c *Config, add func(sev Severity, key, msg, advice string)) {
	mode, err := mysqlconn.ParseTLSMode(c.MetaTLSMode)
	if err != nil {
		add(SevError, "oms_meta_tls_mode", fmt.Sprintf("%q is not a TLS mode", c.MetaTLSMode), "use "+mysqlconn.Modes+" (default preferred)")
		return
	}
	verifies := (mysqlconn.TLS{Mode: mode}).Verifies()
	if c.MetaTLSCA != "" && !verifies {
		add(SevError, "oms_meta_tls_ca", fmt.Sprintf("is set but oms_meta_tls_mode %s does not verify certificates", mode),
			"set oms_meta_tls_mode to verify-ca or verify-identity, or remove oms_meta_tls_ca")
	}
	if c.MetaTLSCA != "" {
		if _, err := os.Stat(c.MetaTLSCA); err != nil {
			add(SevWarning, "oms_meta_tls_ca", fmt.Sprintf("file %s is not readable here: %v", c.MetaTLSCA, err), "the CA file must exist on every node")
		}
	}
}

package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/tsdb"
)

// Target is how every node of a cluster is installed when no wizard asks per node: the seed
// script's flags (-o, -i, -d) plus the SSH login and the console admin password.
type Target struct {
	InstallDir    string
	HostIP        string // this host's IP: its node is installed without SSH ("" = every node over SSH)
	Binary        string
	SSH           SSHLogin
	AdminPassword config.Secret // empty: keep the password file a node already has
	Region        string        // only this region ("" = all)
}

// Node is how node ip of region c is installed: the console TLS files are the region's
// https_key/https_crt (files on this host, copied to each node's conf/tls).
func (t Target) Node(c config.Config, ip string) Node {
	return Node{IP: ip, Config: c, InstallDir: NodeDir(t.InstallDir, ip), Local: ip == t.HostIP, SSH: t.SSH,
		Binary: t.Binary, AdminPassword: t.AdminPassword, TLSKey: c.HTTPSKey, TLSCrt: c.HTTPSCrt}
}

// CheckCluster lists every problem of a cluster deployment before any host is touched: the config file
// rules and the cross-region rules, the flags, the MetaDB, the time-series database, and each
// remote node's SSH port. needAdmin says whether nodes are new (deploy) or already have their
// admin password (config apply).
func CheckCluster(ctx context.Context, cl *config.Cluster, t Target, needAdmin bool) []string {
	var probs []string
	cs := cl.Configs()
	// A file that extends a deployment (regions added in a later run) may leave out the default
	// region and this host's region: both are then checked against the MetaDB below.
	noDefault := true
	for _, c := range cs {
		noDefault = noDefault && !c.CMIsDefault
	}
	var laterDefault string
	for _, p := range cl.Problems() {
		switch {
		case p.Severity != config.SevError:
		case noDefault && p.Key == "cm_is_default":
			laterDefault = p.String()
		default:
			probs = append(probs, p.String())
		}
	}
	if t.Region != "" && !hasRegion(cs, t.Region) {
		probs = append(probs, fmt.Sprintf("--region %s is not a region of the config", t.Region))
	}
	inNodes := false
	for _, c := range cs {
		for _, n := range c.CMNodes {
			inNodes = inNodes || n == t.HostIP
		}
	}
	var laterHost string
	if t.HostIP != "" && !inNodes {
		laterHost = fmt.Sprintf("-i %s: this host's IP is not in cm_nodes of any region of the file nor a registered node (give one of the nodes, or leave -i out to install every node over SSH)", t.HostIP)
	}
	if !strings.HasPrefix(t.InstallDir, "/") {
		probs = append(probs, fmt.Sprintf("-o %q: the installation directory must be an absolute path", t.InstallDir))
	}
	if st, err := os.Stat(t.Binary); err != nil || st.IsDir() {
		probs = append(probs, fmt.Sprintf("-d %q: the oms binary to install is not a readable file", t.Binary))
	}
	if needAdmin {
		if _, err := checkAdminPassword(t.AdminPassword.Reveal()); err != nil {
			probs = append(probs, "console admin password: "+err.Error()+" (give --admin-password-file or OMS_ADMIN_PASSWORD)")
		}
	}
	remote := false
	for _, c := range cs {
		for _, n := range c.CMNodes {
			remote = remote || n != t.HostIP
		}
	}
	if remote && t.SSH.Password == "" && t.SSH.KeyFile == "" {
		probs = append(probs, "remote nodes need an SSH login: give --ssh-key or --ssh-password-file")
	}
	if len(probs) > 0 {
		for _, p := range []string{laterDefault, laterHost} {
			if p != "" {
				probs = append(probs, p)
			}
		}
		return probs // the live checks below need a valid config
	}
	if _, err := ProbeMetaDB(ctx, cs[0]); err != nil {
		probs = append(probs, "MetaDB: "+err.Error())
	} else if reg, err := RegisteredRegions(ctx, cs[0]); err != nil {
		probs = append(probs, "MetaDB: "+err.Error())
	} else {
		for _, c := range cs {
			if err := RegionConflict(reg, c); err != nil {
				probs = append(probs, fmt.Sprintf("region %s: %v", c.CMRegion, err))
			}
		}
		for _, r := range reg {
			if r.CMIsDefault && !hasRegion(cs, r.CMRegion) {
				laterDefault = "" // the default region was deployed by an earlier run
			}
		}
		if laterHost != "" {
			if ok, err := hostRegistered(ctx, cs[0], t.HostIP); err == nil && ok {
				laterHost = ""
			}
		}
	}
	for _, p := range []string{laterDefault, laterHost} {
		if p != "" {
			probs = append(probs, p)
		}
	}
	if c := cs[0]; c.TSDBEnabled {
		if err := tsdb.Check(ctx, c.TSDBURL, c.TSDBUsername, c.TSDBPassword); err != nil {
			probs = append(probs, "time-series database: "+err.Error())
		}
	}
	port := t.SSH.Port
	if port == 0 {
		port = 22
	}
	for _, c := range cs {
		for _, n := range c.CMNodes {
			if n == t.HostIP {
				continue
			}
			d := net.Dialer{Timeout: 5 * time.Second}
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(n, strconv.Itoa(port)))
			if err != nil {
				probs = append(probs, fmt.Sprintf("node %s (region %s): SSH port %d is not reachable: %v", n, c.CMRegion, port, err))
				continue
			}
			conn.Close()
		}
	}
	return probs
}

// ConsoleURL is how a client reaches region's console: the host of its cm_url (the region's
// VIP, which maps the console port as well as the CM port) on the console port, https when the
// region's console has TLS. An empty region means the default region (cm_is_default): the one
// that leads cross-region work and that clients talk to unless told otherwise.
func ConsoleURL(cs []config.Config, region string) (string, error) {
	for _, c := range cs {
		if (region == "" && c.CMIsDefault) || (region != "" && c.CMRegion == region) {
			host, _, err := config.CMURLHostPort(c.CMURL)
			if err != nil {
				return "", fmt.Errorf("region %s: cm_url %q: %w", c.CMRegion, c.CMURL, err)
			}
			scheme := "http"
			if c.HTTPSKey != "" {
				scheme = "https"
			}
			return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(c.ConsolePort)), nil
		}
	}
	if region == "" {
		return "", fmt.Errorf("the cluster file has no default region (cm_is_default: true): give --region")
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.CMRegion)
	}
	return "", fmt.Errorf("region %s is not in the cluster file (its regions: %s)", region, strings.Join(names, ", "))
}

// NodeDir expands "{ip}" in an installation directory, for hosts that share one filesystem
// (containers, network namespaces on one machine).
func NodeDir(dir, ip string) string { return strings.ReplaceAll(dir, "{ip}", ip) }

func hasRegion(cs []config.Config, r string) bool {
	for _, c := range cs {
		if c.CMRegion == r {
			return true
		}
	}
	return false
}

// DeployCluster deploys region after region, the default region first: the region's one-time
// set-up, then its nodes one after another (so re-running it is a rolling restart). A failed node
// does not stop the others of its region; a region left with no running node is an error.
func DeployCluster(ctx context.Context, d Deployer, cs []config.Config, t Target, out io.Writer) error {
	var failed []string
	for _, c := range cs {
		if t.Region != "" && c.CMRegion != t.Region {
			continue
		}
		fmt.Fprintf(out, "Region %s (cm_location %d, default %t): %d node(s)\n", c.CMRegion, c.CMLocation, c.CMIsDefault, len(c.CMNodes))
		if err := d.SetupRegion(ctx, c); err != nil {
			return fmt.Errorf("set up region %s: %w", c.CMRegion, err)
		}
		ok := 0
		for _, ip := range c.CMNodes {
			if err := d.InstallNode(ctx, t.Node(c, ip)); err != nil {
				fmt.Fprintf(out, "FAILED %v\n", err)
				failed = append(failed, err.Error())
				continue
			}
			ok++
			fmt.Fprintf(out, "Node %s is running.\n", ip)
		}
		if ok == 0 {
			return omserr.New(omserr.DeployRegionDown, fmt.Sprintf("region %s has no running node:\n%s", c.CMRegion, strings.Join(failed, "\n")),
				"fix the failing step shown for each host and run the same command again (it is idempotent)")
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	return nil
}

// SetKey sets one key in the cluster's configs: a key shared by all regions (MetaDB, rm/cm
// databases, time-series database, audit) in every region, a region's own key only in region
// (required when there are several regions). cm_nodes takes comma-separated IPs.
func SetKey(cs []config.Config, key, value, region string) ([]config.Config, error) {
	shared := map[string]bool{"oms_meta_host": true, "oms_meta_port": true, "oms_meta_user": true, "oms_meta_password": true, "oms_meta_tls_mode": true, "oms_meta_tls_ca": true,
		"drc_rm_db": true, "drc_cm_db": true, "tsdb_enabled": true, "tsdb_service": true, "tsdb_url": true,
		"tsdb_username": true, "tsdb_password": true, "audit_enabled": true, "audit_sink": true, "audit_file": true, "audit_http_url": true}
	if !shared[key] && region == "" {
		if len(cs) > 1 {
			return nil, fmt.Errorf("%s is a per-region key and the config has %d regions: give --region", key, len(cs))
		}
		if len(cs) == 1 {
			region = cs[0].CMRegion
		}
	}
	if region != "" && !hasRegion(cs, region) {
		return nil, fmt.Errorf("region %s is not in the config", region)
	}
	out := make([]config.Config, len(cs))
	for i, c := range cs {
		out[i] = c
		if !shared[key] && c.CMRegion != region {
			continue
		}
		text := string(config.Format(c))
		if key == "cm_nodes" {
			c.CMNodes = nil
			for _, n := range strings.Split(value, ",") {
				if n = strings.TrimSpace(n); n != "" {
					c.CMNodes = append(c.CMNodes, n)
				}
			}
			text = string(config.Format(c))
		} else {
			text = setLine(text, key, value)
		}
		r := config.Parse([]byte(text))
		if _, known := r.Lines[key]; !known || hasUnknown(r, key) {
			return nil, fmt.Errorf("%s is not a config key (see docs/config.md)", key)
		}
		out[i] = r.Config
	}
	return out, nil
}

func hasUnknown(r *config.Result, key string) bool {
	for _, p := range r.Problems {
		if p.Key == key && p.Message == "unknown key, ignored" {
			return true
		}
	}
	return false
}

// setLine replaces `key: ...` in Format's output, or appends it.
func setLine(text, key, value string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	v := value
	if strings.HasSuffix(key, "_password") || strings.ContainsAny(v, ":#*&!{}[],'\"") {
		v = "'" + strings.ReplaceAll(value, "'", "''") + "'"
	}
	for i, l := range lines {
		if strings.HasPrefix(l, key+":") {
			lines[i] = key + ": " + v
			return strings.Join(lines, "\n") + "\n"
		}
	}
	return strings.Join(append(lines, key+": "+v), "\n") + "\n"
}

package deploy

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/buildinfo"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// UpgradeOptions are `oms upgrade`'s settings.
type UpgradeOptions struct {
	Target       Target
	NewVersion   string // version of the binary being installed (from `BINARY version`)
	BackupDir    string // where the MetaDB backup is written
	DrainTimeout time.Duration
	Out          io.Writer
	// Backup dumps the oms databases to path (nil: mariadb-dump or mysqldump).
	Backup func(ctx context.Context, c config.Config, path string) error
}

// Upgrade upgrades every node of every region, one node at a time: a pre-upgrade check (no node
// runs a newer version than the package: a downgrade is refused), a backup of the MetaDB's oms
// databases, the MetaDB migrations forward (each region's set-up: idempotent, expand-only so the
// old nodes keep working), then per node: drain (its components move to the other nodes of the
// region), replace the binary and restart, wait healthy, back ONLINE.
func Upgrade(ctx context.Context, d Deployer, cs []config.Config, o UpgradeOptions) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	db, err := metadb.Open(ctx, cs[0])
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkNoDowngrade(ctx, db, cs[0].CMDB, o.NewVersion); err != nil {
		return err
	}
	fmt.Fprintf(out, "Pre-upgrade check passed: installing %s.\n", o.NewVersion)
	backup := o.Backup
	if backup == nil {
		backup = DumpMetaDB
	}
	if err := os.MkdirAll(o.BackupDir, 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	path := filepath.Join(o.BackupDir, "oms-metadb-"+time.Now().UTC().Format("20060102T150405")+".sql")
	if err := backup(ctx, cs[0], path); err != nil {
		return fmt.Errorf("back up the MetaDB (nothing was changed): %w", err)
	}
	fmt.Fprintf(out, "MetaDB backed up to %s.\n", path)
	for _, c := range cs {
		if err := d.SetupRegion(ctx, c); err != nil {
			return fmt.Errorf("migrate the MetaDB for region %s: %w", c.CMRegion, err)
		}
	}
	t := o.Target
	t.AdminPassword = "" // the nodes keep their admin user
	for _, c := range cs {
		if t.Region != "" && c.CMRegion != t.Region {
			continue
		}
		order, err := idleFirst(ctx, db, c)
		if err != nil {
			return err
		}
		for _, ip := range order {
			if err := upgradeNode(ctx, db, d, c, t.Node(c, ip), o, out); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(out, "Upgrade finished.")
	return nil
}

func upgradeNode(ctx context.Context, db *sql.DB, d Deployer, c config.Config, n Node, o UpgradeOptions, out io.Writer) error {
	hosts := sqlgen.Table(c.CMDB, "hosts")
	setState := func(state string) error {
		_, err := db.ExecContext(context.WithoutCancel(ctx), "UPDATE "+hosts+" SET state = ? WHERE ip = ?", state, n.IP)
		if err != nil {
			return fmt.Errorf("mark host %s %s: %w", n.IP, state, err)
		}
		return nil
	}
	others, err := onlinePeers(ctx, db, c, n.IP)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Node %s (region %s): draining.\n", n.IP, c.CMRegion)
	if err := setState(metadb.HostDraining); err != nil {
		return err
	}
	if len(others) == 0 {
		fmt.Fprintf(out, "Node %s: warning: no other ONLINE node in region %s; its components stop while it is replaced.\n", n.IP, c.CMRegion)
	} else if err := stopFirst(ctx, d, n); err != nil {
		_ = setState(metadb.HostOnline)
		return err
	} else if err := moveTasksOff(ctx, db, c.CMDB, n.IP, others, out); err != nil {
		_ = setState(metadb.HostOnline)
		return err
	} else if err := waitDrained(ctx, db, c.CMDB, n.IP, o.DrainTimeout); err != nil {
		_ = setState(metadb.HostOnline)
		return err
	}
	if err := d.InstallNode(ctx, n); err != nil {
		_ = setState(metadb.HostOnline)
		return fmt.Errorf("upgrade node %s: %w", n.IP, err)
	}
	if err := setState(metadb.HostOnline); err != nil {
		return err
	}
	fmt.Fprintf(out, "Node %s runs %s.\n", n.IP, o.NewVersion)
	return nil
}

// NodeStopper is a Deployer that can stop a node without replacing it.
type NodeStopper interface {
	StopNode(ctx context.Context, n Node) error
}

// stopFirst stops the node (its components with it) before they move: the old processes are
// gone before the new ones start, whatever version the node's supervisor runs.
func stopFirst(ctx context.Context, d Deployer, n Node) error {
	s, ok := d.(NodeStopper)
	if !ok {
		return nil
	}
	if err := s.StopNode(ctx, n); err != nil {
		return fmt.Errorf("stop node %s before moving its components: %w", n.IP, err)
	}
	return nil
}

// idleFirst orders the region's nodes by how many components they run, fewest first: the
// components of the busy nodes then move to nodes already upgraded, once each.
func idleFirst(ctx context.Context, db *sql.DB, c config.Config) ([]string, error) {
	load, err := task.NewTable(db, c.CMDB).CountByHost(ctx)
	if err != nil {
		return nil, err
	}
	order := slices.Clone(c.CMNodes)
	slices.SortStableFunc(order, func(a, b string) int { return load[a] - load[b] })
	return order, nil
}

// onlinePeers lists the ONLINE hosts of c's region other than ip.
func onlinePeers(ctx context.Context, db *sql.DB, c config.Config, ip string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT ip FROM "+sqlgen.Table(c.CMDB, "hosts")+" WHERE region = ? AND ip <> ? AND state = ? ORDER BY ip", c.CMRegion, ip, metadb.HostOnline)
	if err != nil {
		return nil, fmt.Errorf("read hosts of region %s: %w", c.CMRegion, err)
	}
	defer rows.Close()
	var ips []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("read hosts of region %s: %w", c.CMRegion, err)
		}
		ips = append(ips, p)
	}
	return ips, rows.Err()
}

// moveTasksOff gives every task of host ip that is meant to run to the least loaded of peers,
// with the same epoch compare-and-set as the CM's placement (task.Table.Assign: a CM moving it at
// the same time cannot make it run twice). The upgrade does not leave this to the region's CM:
// a CM of an earlier version may not know DRAINING (v0.1.0 sets every beating host ONLINE).
func moveTasksOff(ctx context.Context, db *sql.DB, cmDB, ip string, peers []string, out io.Writer) error {
	tasks := task.NewTable(db, cmDB)
	on, err := tasks.OnHost(ctx, ip)
	if err != nil {
		return err
	}
	load, err := tasks.CountByHost(ctx)
	if err != nil {
		return err
	}
	for _, t := range on {
		if !t.Active() {
			continue
		}
		best := peers[0]
		for _, p := range peers[1:] {
			if load[p] < load[best] {
				best = p
			}
		}
		epoch, ok, err := tasks.Assign(ctx, t, best)
		if err != nil {
			return err
		}
		if ok {
			load[best]++
			fmt.Fprintf(out, "Node %s: component %s moved to %s (epoch %d).\n", ip, t.ID, best, epoch)
		}
	}
	return nil
}

// waitDrained waits until every task that ran on ip runs on another host (state RUNNING
// reported by its new supervisor), or is no longer meant to run.
func waitDrained(ctx context.Context, db *sql.DB, cmDB, ip string, timeout time.Duration) error {
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	tasks := task.NewTable(db, cmDB)
	was, err := tasks.OnHost(ctx, ip)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var moving []string
		for _, w := range was {
			t, ok, err := tasks.Get(ctx, w.ID)
			if err != nil {
				return err
			}
			if ok && t.Active() && t.Desired == task.DesiredRunning && t.State != task.Finished && (t.Host == ip || t.State != task.Running) {
				moving = append(moving, t.ID)
			}
		}
		if len(moving) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return omserr.New(omserr.DeployDrainTimeout, fmt.Sprintf("node %s: components %s did not run elsewhere within %s", ip, strings.Join(moving, ", "), timeout),
				"check that the region's other nodes are ONLINE (oms host list) and have room, then run the upgrade again")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// checkNoDowngrade refuses a package older than the version any registered node runs.
func checkNoDowngrade(ctx context.Context, db *sql.DB, cmDB, newVersion string) error {
	rows, err := db.QueryContext(ctx, "SELECT ip, version FROM "+sqlgen.Table(cmDB, "hosts"))
	if missingSchema(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read host versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ip, v string
		if err := rows.Scan(&ip, &v); err != nil {
			return fmt.Errorf("read host versions: %w", err)
		}
		if cmp, ok := buildinfo.CompareVersions(newVersion, v); ok && cmp < 0 {
			return omserr.New(omserr.DeployDowngrade, fmt.Sprintf("node %s runs oms %s, newer than the package's %s", ip, v, newVersion),
				"a downgrade is not supported: install a package of version "+v+" or later (restore the MetaDB backup of the earlier upgrade to go back)")
		}
	}
	return rows.Err()
}

// VersionOf reads the version from `oms version` output ("oms v0.1.0 (commit ..., go...)").
func VersionOf(versionOutput string) string {
	f := strings.Fields(versionOutput)
	if len(f) >= 2 && f[0] == "oms" {
		return f[1]
	}
	return ""
}

// DumpMetaDB writes the oms databases (rm, cm and every region's heartbeat database) to path
// with mariadb-dump (or mysqldump), the password in a 0600 defaults file, never in argv or env.
func DumpMetaDB(ctx context.Context, c config.Config, path string) error {
	tool, err := exec.LookPath("mariadb-dump")
	if err != nil {
		if tool, err = exec.LookPath("mysqldump"); err != nil {
			return fmt.Errorf("neither mariadb-dump nor mysqldump is installed here: install the MariaDB or MySQL client")
		}
	}
	regions, err := RegisteredRegions(ctx, c)
	if err != nil {
		return err
	}
	dbs := []string{c.RMDB, c.CMDB}
	for _, r := range regions {
		dbs = append(dbs, r.HeartbeatDB)
	}
	def, err := os.CreateTemp("", "oms-dump-*.cnf")
	if err != nil {
		return err
	}
	defer os.Remove(def.Name())
	fmt.Fprintf(def, "[client]\nhost=%s\nport=%d\nuser=%s\npassword=%s\n", c.MetaHost, c.MetaPort, c.MetaUser, strings.NewReplacer(`\`, `\\`, "\n", "").Replace(c.MetaPassword.Reveal()))
	tlsOpts, err := dumpTLSOptions(filepath.Base(tool), c)
	if err != nil {
		def.Close()
		return err
	}
	for _, o := range tlsOpts {
		fmt.Fprintln(def, o)
	}
	if err := def.Close(); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	args := append([]string{"--defaults-extra-file=" + def.Name(), "--single-transaction", "--routines", "--databases"}, dbs...)
	cmd := exec.CommandContext(ctx, tool, args...)
	var errb strings.Builder
	cmd.Stdout, cmd.Stderr = f, &errb
	if err := cmd.Run(); err != nil {
		os.Remove(path)
		return fmt.Errorf("%s: %w: %s", filepath.Base(tool), err, tailText(errb.String(), 5))
	}
	return f.Sync()
}

// dumpTLSOptions are the client options (defaults-file lines) that make the dump tool connect to
// the MetaDB as the nodes do (oms_meta_tls_mode, oms_meta_tls_ca): mysqldump takes ssl-mode,
// mariadb-dump the ssl switches. preferred (the default) leaves the tool's own default.
func dumpTLSOptions(tool string, c config.Config) ([]string, error) {
	mode, err := mysqlconn.ParseTLSMode(c.MetaTLSMode)
	if err != nil {
		return nil, fmt.Errorf("oms_meta_tls_mode: %w", err)
	}
	var out []string
	if tool == "mysqldump" {
		switch mode {
		case mysqlconn.TLSDisabled:
			out = append(out, "ssl-mode=DISABLED")
		case mysqlconn.TLSRequired:
			out = append(out, "ssl-mode=REQUIRED")
		case mysqlconn.TLSVerifyCA:
			out = append(out, "ssl-mode=VERIFY_CA")
		case mysqlconn.TLSVerifyIdentity:
			out = append(out, "ssl-mode=VERIFY_IDENTITY")
		}
	} else {
		switch mode {
		case mysqlconn.TLSDisabled:
			out = append(out, "skip-ssl")
		case mysqlconn.TLSRequired:
			out = append(out, "ssl", "skip-ssl-verify-server-cert")
		case mysqlconn.TLSVerifyCA, mysqlconn.TLSVerifyIdentity:
			// The MariaDB client checks the host name whenever it verifies the certificate.
			out = append(out, "ssl", "ssl-verify-server-cert")
		}
	}
	if c.MetaTLSCA != "" && (mode == mysqlconn.TLSVerifyCA || mode == mysqlconn.TLSVerifyIdentity) {
		out = append(out, "ssl-ca="+c.MetaTLSCA)
	}
	return out, nil
}

package deploy

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
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
		for _, ip := range c.CMNodes {
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
	var others int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+hosts+" WHERE region = ? AND ip <> ? AND state = ?", c.CMRegion, n.IP, metadb.HostOnline).Scan(&others); err != nil {
		return fmt.Errorf("read hosts of region %s: %w", c.CMRegion, err)
	}
	fmt.Fprintf(out, "Node %s (region %s): draining.\n", n.IP, c.CMRegion)
	if err := setState(metadb.HostDraining); err != nil {
		return err
	}
	if others == 0 {
		fmt.Fprintf(out, "Node %s: warning: no other ONLINE node in region %s; its components stop while it is replaced.\n", n.IP, c.CMRegion)
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
		if cmp, ok := CompareVersions(newVersion, v); ok && cmp < 0 {
			return omserr.New(omserr.DeployDowngrade, fmt.Sprintf("node %s runs oms %s, newer than the package's %s", ip, v, newVersion),
				"a downgrade is not supported: install a package of version "+v+" or later (restore the MetaDB backup of the earlier upgrade to go back)")
		}
	}
	return rows.Err()
}

var versionRe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-(\d+)-g[0-9a-f]+)?(?:-dirty)?$`)

// CompareVersions compares two oms versions as `git describe --tags` writes them (v0.1.0,
// v0.1.0-12-gabc1234: 12 commits after v0.1.0). ok is false when either is not such a version
// (a "dev" build): nothing can be said.
func CompareVersions(a, b string) (cmp int, ok bool) {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	if !oka || !okb {
		return 0, false
	}
	for i := range pa {
		switch {
		case pa[i] < pb[i]:
			return -1, true
		case pa[i] > pb[i]:
			return 1, true
		}
	}
	return 0, true
}

func parseVersion(s string) ([4]int, bool) {
	m := versionRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return [4]int{}, false
	}
	var p [4]int
	for i := 1; i <= 4; i++ {
		p[i-1], _ = strconv.Atoi(m[i])
	}
	return p, true
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

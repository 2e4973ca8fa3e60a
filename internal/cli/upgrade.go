package cli

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/deploy"
	"github.com/omsdev/oms/internal/omserr"
)

func newUpgradeCmd() *cobra.Command {
	var f deployFlags
	var backupDir string
	var drainTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade -c CLUSTER_FILE -d PACKAGE [deploy flags]",
		Short: "Upgrade every node of every region, one node at a time, without stopping the projects",
		Long: `Checks the cluster (as deploy --check does) and refuses a downgrade (a package older than a
node's version), backs up the MetaDB's oms databases with mariadb-dump, migrates the MetaDB
forward (expand-only: nodes of the previous version keep working), then node after node: marks
the host DRAINING so the CM moves its components to the region's other nodes, waits until they
run there, replaces the binary, restarts the node, waits until it is healthy and marks it ONLINE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.configPath == "" || f.binary == "" {
				return withCode(ExitUsage, fmt.Errorf("give -c CLUSTER_FILE and -d PACKAGE (or the new oms binary)"))
			}
			cl, t, done, err := f.checkedCluster(cmd.Context(), "pre-upgrade checks")
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			if backupDir == "" {
				backupDir = filepath.Dir(f.configPath)
			}
			err = deploy.Upgrade(cmd.Context(), f.installer(out), cl.Configs(), deploy.UpgradeOptions{
				Target: t, NewVersion: deploy.VersionOf(binaryVersion(t.Binary)), BackupDir: backupDir, DrainTimeout: drainTimeout, Out: out,
			})
			if err != nil {
				return withCode(upgradeExit(err), err)
			}
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&backupDir, "backup-dir", "", "where the MetaDB backup is written (default: the cluster file's directory)")
	cmd.Flags().DurationVar(&drainTimeout, "drain-timeout", 3*time.Minute, "how long to wait for a node's components to run on other nodes")
	auditedCmd(cmd, audit.OriginDeploy, func() string { return f.configPath }, func([]string) string { return "upgrade " + f.binary }, nil)
	return cmd
}

// upgradeExit: a refusal because of what was found (a downgrade, a MetaDB schema newer than the
// package) is exit 4; anything else failed (1).
func upgradeExit(err error) int {
	switch omserr.CodeOf(err) {
	case omserr.DeployDowngrade, omserr.MetaDBSchemaNewer:
		return ExitConflict
	}
	return ExitFailure
}

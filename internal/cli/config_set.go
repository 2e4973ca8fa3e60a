package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/deploy"
)

// newConfigSetCmds are `oms config set KEY VALUE` and `oms config apply`: change the cluster file
// and bring every node of every region (or one region) to it in one command, instead of editing
// config.yaml by hand on each node and restarting its services.
func newConfigSetCmds() []*cobra.Command {
	var sf deployFlags
	var noApply bool
	set := &cobra.Command{
		Use:   "set KEY VALUE -c CLUSTER_FILE [--region R]",
		Short: "Change one key in the cluster file, check it, and apply it to every node",
		Long: `Keys shared by all regions (oms_meta_*, drc_rm_db, drc_cm_db, tsdb_*, audit_*) change in every
region; a region's own keys need --region when there are several regions. cm_nodes takes
comma-separated IPs. The new config is checked first; nothing changes when it fails.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sf.configPath == "" {
				return withCode(ExitUsage, fmt.Errorf("give -c CLUSTER_FILE"))
			}
			cl, err := loadClusterFile(sf.configPath)
			if err != nil {
				return err
			}
			cs, err := deploy.SetKey(cl.Configs(), args[0], args[1], sf.region)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			ncl := config.ParseCluster(config.FormatCluster(cs), sf.configPath)
			if err := ncl.Err(); err != nil {
				return withCode(ExitInvalid, fmt.Errorf("%s %s: %w; nothing was changed", args[0], maskIfSecret(args[0], args[1]), err))
			}
			if err := os.WriteFile(sf.configPath, config.FormatCluster(cs), 0o600); err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s set to %s.\n", sf.configPath, args[0], maskIfSecret(args[0], args[1]))
			if noApply {
				return nil
			}
			return applyCluster(cmd, &sf)
		},
	}
	sf.register(set, true)
	set.Flags().BoolVar(&noApply, "no-apply", false, "only change the file; run `oms config apply` later")
	auditedCmd(set, audit.OriginConfig, func() string { return sf.configPath }, func(args []string) string {
		if len(args) < 2 {
			return strings.Join(args, " ")
		}
		return args[0] + "=" + maskIfSecret(args[0], args[1])
	}, nil)

	var af deployFlags
	apply := &cobra.Command{
		Use:   "apply -c CLUSTER_FILE [--region R]",
		Short: "Check the cluster file, re-run the MetaDB set-up and update and restart every node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if af.configPath == "" {
				return withCode(ExitUsage, fmt.Errorf("give -c CLUSTER_FILE"))
			}
			return applyCluster(cmd, &af)
		},
	}
	af.register(apply, true)
	auditedCmd(apply, audit.OriginConfig, func() string { return af.configPath }, func([]string) string { return af.configPath }, nil)
	return []*cobra.Command{set, apply}
}

// applyCluster checks the file and redeploys every node with it, one at a time (each node is
// stopped, its config rewritten, started and waited for before the next), so a region behind its
// VIP stays reachable.
func applyCluster(cmd *cobra.Command, f *deployFlags) error {
	cl, t, done, err := f.checkedCluster(cmd.Context(), "checks")
	if err != nil {
		return err
	}
	defer done()
	out := cmd.OutOrStdout()
	if err := deploy.DeployCluster(cmd.Context(), f.installer(out), cl.Configs(), t, out); err != nil {
		return withCode(ExitFailure, err)
	}
	fmt.Fprintln(out, "Applied.")
	return nil
}

func maskIfSecret(key, v string) string {
	if strings.HasSuffix(key, "_password") {
		return config.Masked
	}
	return v
}

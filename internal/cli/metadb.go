package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/clusterca"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
)

func newMetaDBCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "metadb", Short: "Set up and inspect the MetaDB"}
	var path string
	init := &cobra.Command{
		Use:   "init -c config.yaml",
		Short: "Create or upgrade the rm, cm and heartbeat databases (safe to repeat)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadConfig(path)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			db, err := metadb.Open(ctx, r.Config)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			defer db.Close()
			names := metadb.NamesFrom(r.Config)
			out := cmd.OutOrStdout()
			existing, err := metadb.Existing(ctx, db, names)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if len(existing) > 0 {
				fmt.Fprintf(out, "The specified database names already exist in the MetaDB: %s (repeated deployment or upgrade); checking their schema.\n", strings.Join(existing, ", "))
			}
			rep, err := metadb.Init(ctx, db, names)
			if err != nil {
				code := ExitFailure
				if omserr.CodeOf(err) == omserr.MetaDBSchemaNewer || omserr.CodeOf(err) == omserr.MetaDBUnsupportedVersion {
					code = ExitConflict
				}
				return withCode(code, err)
			}
			// The cluster CA of the internal links, created once (see docs/security.md).
			keys, err := secret.Load(ctx, db, names.CM)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if _, err := clusterca.Load(ctx, db, names.CM, keys); err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(out, "MetaDB %s:%d: %s %s\n", r.Config.MetaHost, r.Config.MetaPort, rep.Server.Product, rep.Server.Version)
			for _, d := range rep.Databases {
				switch {
				case !d.Existed:
					fmt.Fprintf(out, "  %-9s %-24s created, schema version %d\n", d.Kind, d.Name, d.ToVersion)
				case len(d.AppliedVersion) > 0:
					fmt.Fprintf(out, "  %-9s %-24s upgraded from version %d to %d\n", d.Kind, d.Name, d.FromVersion, d.ToVersion)
				default:
					fmt.Fprintf(out, "  %-9s %-24s up to date (version %d), unchanged\n", d.Kind, d.Name, d.ToVersion)
				}
			}
			return nil
		},
	}
	init.Flags().StringVarP(&path, "config", "c", "config.yaml", "config file")
	cmd.AddCommand(init)
	return cmd
}

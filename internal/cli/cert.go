package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
)

func newCertCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cert", Short: "The cluster CA and the certificates of the internal links (see docs/security.md)"}
	var path, caCert, caKey string
	rotate := &cobra.Command{
		Use:   "rotate -c config.yaml [--ca-cert FILE --ca-key FILE]",
		Short: "Replace the cluster CA; every node reissues its own and its components' certificates",
		Long: `Creates a new cluster CA in the MetaDB (or imports your own CA with --ca-cert and --ca-key, PEM).
Every node re-reads the CA within 10 s and trusts it at once; 30 s after the rotation nodes issue
new certificates from it (their own and their components') without restarting anything. The
previous CA stays trusted until the next rotation. Run it again to retire the previous CA.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var imported *tls.Certificate
			if caCert != "" || caKey != "" {
				if caCert == "" || caKey == "" {
					return withCode(ExitUsage, fmt.Errorf("give both --ca-cert and --ca-key"))
				}
				c, err := tls.LoadX509KeyPair(caCert, caKey)
				if err != nil {
					return withCode(ExitInvalid, omserr.Wrap(err, omserr.ClusterCAInvalid, "cannot load --ca-cert/--ca-key", "give a PEM CA certificate and its private key"))
				}
				imported = &c
			}
			r, err := loadConfig(path)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			db, err := metadb.Open(ctx, r.Config)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			defer db.Close()
			names := metadb.NamesFrom(r.Config)
			keys, err := secret.Load(ctx, db, names.CM)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fp, err := clustertls.Rotate(ctx, db, names.CM, keys, imported)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new cluster CA %s: trusted by every node within %s, certificates issued from it after %s\n",
				fp, clustertls.RefreshInterval, clustertls.ActivationDelay)
			return nil
		},
	}
	rotate.Flags().StringVarP(&path, "config", "c", "config.yaml", "config file")
	rotate.Flags().StringVar(&caCert, "ca-cert", "", "your own CA certificate (PEM) to use instead of a generated one")
	rotate.Flags().StringVar(&caKey, "ca-key", "", "its private key (PEM)")
	cmd.AddCommand(rotate)
	return cmd
}

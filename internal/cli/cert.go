package cli

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/clusterca"
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
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			db, cmDB, keys, err := openCluster(ctx, path)
			if err != nil {
				return err
			}
			defer db.Close()
			fp, err := clusterca.Rotate(ctx, db, cmDB, keys, imported)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new cluster CA %s: trusted by every node within %s, certificates issued from it after %s\n",
				fp, clusterca.RefreshInterval, clusterca.ActivationDelay)
			return nil
		},
	}
	rotate.Flags().StringVarP(&path, "config", "c", "config.yaml", "config file")
	var monitor, node, out string
	issue := &cobra.Command{
		Use:   "issue -c config.yaml (--monitor NAME | --node IP) --out DIR",
		Short: "Issue a certificate for a metrics scraper (Prometheus) or for a node's files",
		Long: `Writes DIR/cert.pem, DIR/key.pem (0600) and DIR/ca.pem: a certificate from the cluster CA, valid
90 days, naming
  --monitor NAME: oms://monitor/NAME. Give them to Prometheus (scheme: https, tls_config: ca_file,
    cert_file, key_file). It may read /metrics on the supervisor port (9000) and nothing else.
  --node IP: oms://node/IP with IP SAN IP, for node_tls_crt/node_tls_key of the node at IP (a
    node normally issues its own in memory; files are for operators who manage them, e.g. to
    have them signed by or checked against the company PKI). The node re-reads them; replace
    them before they expire.
Issue it again after ` + "`oms cert rotate`" + ` (the previous CA stays trusted until the next rotation).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (monitor == "") == (node == "") || out == "" {
				return withCode(ExitUsage, fmt.Errorf("give --monitor NAME or --node IP, and --out DIR"))
			}
			id, hosts := clustertls.Monitor(monitor), []string(nil)
			if node != "" {
				if net.ParseIP(node) == nil {
					return withCode(ExitUsage, fmt.Errorf("--node %q is not an IP address (the node's host IP)", node))
				}
				id, hosts = clustertls.Node(node), []string{node}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			db, cmDB, keys, err := openCluster(ctx, path)
			if err != nil {
				return err
			}
			defer db.Close()
			a, err := clusterca.Load(ctx, db, cmDB, keys)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			leaf, err := a.Issue(id, hosts)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return withCode(ExitFailure, err)
			}
			f := clustertls.Files{Cert: filepath.Join(out, "cert.pem"), Key: filepath.Join(out, "key.pem"), CA: filepath.Join(out, "ca.pem")}
			if err := f.Write(leaf); err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s, %s and %s for %s, valid until %s\n", f.Cert, f.Key, f.CA, id, leaf.NotAfter.UTC().Format(time.DateOnly))
			return nil
		},
	}
	issue.Flags().StringVarP(&path, "config", "c", "config.yaml", "config file")
	issue.Flags().StringVar(&monitor, "monitor", "", "the scraper's name (e.g. prometheus)")
	issue.Flags().StringVar(&node, "node", "", "a node's host IP (files for its node_tls_crt/node_tls_key)")
	issue.Flags().StringVar(&out, "out", "", "directory for cert.pem, key.pem and ca.pem")
	cmd.AddCommand(issue)
	rotate.Flags().StringVar(&caCert, "ca-cert", "", "your own CA certificate (PEM) to use instead of a generated one")
	rotate.Flags().StringVar(&caKey, "ca-key", "", "its private key (PEM)")
	cmd.AddCommand(rotate)
	return cmd
}

// openCluster opens the MetaDB of config path and its keyring.
func openCluster(ctx context.Context, path string) (*sql.DB, string, *secret.Keyring, error) {
	r, err := loadConfig(path)
	if err != nil {
		return nil, "", nil, err
	}
	db, err := metadb.Open(ctx, r.Config)
	if err != nil {
		return nil, "", nil, withCode(ExitFailure, err)
	}
	names := metadb.NamesFrom(r.Config)
	keys, err := secret.Load(ctx, db, names.CM)
	if err != nil {
		db.Close()
		return nil, "", nil, withCode(ExitFailure, err)
	}
	return db, names.CM, keys, nil
}

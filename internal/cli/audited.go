package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
)

// cliAuditTimeout bounds writing a CLI action's audit record (the MetaDB may be what failed).
const cliAuditTimeout = 20 * time.Second

// auditedCmd makes a mutating command that works on the MetaDB without the OpenAPI (`oms deploy`,
// `oms config set|apply`) write its audit record after it ran, success or not: the OS user, this
// host, the command, resource(args) and the result, to the MetaDB of the cluster file
// clusterFile() names (read after the run: the wizard writes it). A record that cannot be written
// is retried and reported on stderr; the command's own result stands. skip() true: nothing to
// audit (a --check run).
func auditedCmd(cmd *cobra.Command, origin string, clusterFile func() string, resource func(args []string) string, skip func() bool) {
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		err := run(c, args)
		if skip != nil && skip() {
			return err
		}
		var ee *exitError
		if errors.As(err, &ee) && ee.code == ExitUsage {
			return err // nothing was attempted
		}
		rec := audit.Record{Origin: origin, User: osUser(), Source: hostName(), Action: strings.TrimPrefix(c.CommandPath(), "oms "),
			Resource: resource(args), Success: err == nil}
		if err != nil {
			rec.Detail = omserr.CodeOf(err)
			if rec.Detail == "" {
				rec.Detail = audit.Truncate(err.Error(), 500)
			}
		}
		if aerr := writeCLIAudit(c.Context(), clusterFile(), rec); aerr != nil {
			fmt.Fprintf(c.ErrOrStderr(), "warning: the audit record of %q was not written: %v\n", rec.Action, aerr)
		}
		return err
	}
}

func writeCLIAudit(parent context.Context, clusterFile string, rec audit.Record) error {
	if clusterFile == "" {
		return errors.New("no cluster file to find the MetaDB in")
	}
	if st, err := os.Stat(clusterFile); err == nil && st.IsDir() {
		if _, err := os.Stat(filepath.Join(clusterFile, "oms-cluster.yaml")); err == nil {
			clusterFile = filepath.Join(clusterFile, "oms-cluster.yaml") // the wizard's, beside its per-region copies
		}
	}
	cl, err := config.LoadCluster(clusterFile)
	if err != nil {
		return err
	}
	cfgs := cl.Configs()
	if len(cfgs) == 0 {
		return errors.New(clusterFile + " has no region")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cliAuditTimeout)
	defer cancel()
	db, err := metadb.Open(ctx, cfgs[0]) // every region shares the MetaDB and drc_rm_db
	if err != nil {
		return err
	}
	defer db.Close()
	return audit.Write(ctx, db, cfgs[0].RMDB, rec, nil)
}

func osUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u + " (sudo)"
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func hostName() string {
	h, _ := os.Hostname()
	return h
}

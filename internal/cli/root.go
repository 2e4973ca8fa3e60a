// Package cli builds the oms command tree. One file per subcommand; each file only parses flags,
// calls into a role package (or the public api client) and maps the result to output and an exit
// code (see docs/contributing/conventions.md).
package cli

import (
	"log/slog"

	"errors"
	"fmt"
	"github.com/go-sql-driver/mysql"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, documented in docs/contributing/conventions.md.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the operation failed (the message says why and what to do)
	ExitUsage    = 2 // bad flags or arguments
	ExitInvalid  = 3 // input (config, spec, project file) is invalid; nothing was changed
	ExitConflict = 4 // refused because of the state found (e.g. MetaDB schema newer than binary)
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// newRoot builds the command tree; out and errOut are where commands print.
func newRoot(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "oms",
		Short:         "oms: data migration and synchronization for MySQL-compatible databases",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(
		newVersionCmd(),
		newConfigCmd(),
		newMetaDBCmd(),
		withComponentList(newComponentCmd()),
		newDeployCmd(),
		newUpgradeCmd(),
		newNodeCmd(),
		newProjectCmd(),
		newHostCmd(),
		newAlertCmd(),
		newAuditCmd(),
		newMetricsRelayCmd(),
		newCertCmd(),
	)
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(args []string) int {
	root := newRoot(os.Stdout, os.Stderr)
	root.SetArgs(args)
	// CLI commands report the driver's failures as errors: its own messages are debug records
	// (dropped at the default level); node and component commands log them at warn level.
	_ = mysql.SetLogger(driverLog{slog.Default(), slog.LevelDebug})
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(os.Stderr, "error:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage // cobra's own errors are flag and argument problems
}

package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/omsdev/oms/api"
	"github.com/spf13/cobra"
)

// newVerifyResultCmd: `oms project verify-result ID [--sql FILE]`, the per-table counts of the last
// finished verification (DescribeVerificationResult) and, with --sql, its fix SQL saved to FILE.
// It exits 1 when the verification found differences (rows or definitions), like diff, so a
// script can tell without reading the table.
func newVerifyResultCmd(cf *clientFlags) *cobra.Command {
	var sqlPath string
	cmd := &cobra.Command{
		Use:   "verify-result ID [--sql FILE]",
		Short: "Show the per-table counts of a project's last verification; --sql saves its fix SQL",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			res, err := c.DescribeVerificationResult(cmd.Context(), args[0])
			if err != nil {
				return apiExit(err)
			}
			out := cmd.OutOrStdout()
			verdict := "source and target are equal"
			if !res.Equal {
				verdict = "differences found"
			}
			fmt.Fprintf(out, "%s: %s (finished %s)\n", args[0], verdict, res.FinishedAt.Format("2006-01-02 15:04:05Z07:00"))
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SOURCE\tTARGET\tMETHOD\tCOMPARED\tMISSING\tEXTRA\tCHANGED\tSCHEMA DIFFERENCES")
			for _, t := range res.Tables {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", t.Table, t.Target, t.Method, t.RowsCompared, t.OnlyInSource, t.OnlyInTarget, t.Different, strings.Join(t.SchemaDifferences, "; "))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if sqlPath == "" {
				if res.FixSQLBytes > 0 {
					fmt.Fprintf(out, "fix SQL: %d bytes; save it with --sql FILE\n", res.FixSQLBytes)
				}
				return differencesExit(args[0], res)
			}
			fix, err := c.DownloadVerificationFixSQL(cmd.Context(), args[0])
			if err != nil {
				return apiExit(err)
			}
			if err := os.WriteFile(sqlPath, []byte(fix.SQL), 0o600); err != nil {
				return withCode(ExitFailure, fmt.Errorf("write the fix SQL to %s: %w", sqlPath, err))
			}
			note := ""
			if fix.Truncated {
				note = " (truncated: see its last line for where the complete files are)"
			}
			fmt.Fprintf(out, "fix SQL written to %s: %d bytes%s; review it before applying it to the target\n", sqlPath, len(fix.SQL), note)
			return differencesExit(args[0], res)
		},
	}
	cmd.Flags().StringVar(&sqlPath, "sql", "", "write the fix SQL to this file")
	return cmd
}

// differencesExit is nil for a verification that found source and target equal, else an exit-1
// error that says what differs.
func differencesExit(id string, res api.VerificationResult) error {
	if res.Equal {
		return nil
	}
	return withCode(ExitFailure, fmt.Errorf("verification of %s found differences: %d rows missing on the target, %d extra, %d changed, %d tables with definition differences",
		id, res.OnlyInSource, res.OnlyInTarget, res.Different, res.SchemaDifferent))
}

package cli

import (
	"fmt"
	"runtime"

	"github.com/omsdev/oms/internal/buildinfo"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and git commit of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "oms %s (commit %s, %s)\n", buildinfo.Version, buildinfo.CommitID(), runtime.Version())
			return nil
		},
	}
}

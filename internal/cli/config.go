package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check and show a node's config.yaml"}
	var path string
	check := &cobra.Command{
		Use:   "check -c config.yaml",
		Short: "Validate config.yaml and print every problem with its key, line and what to do",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := config.LoadFile(path)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			out := cmd.OutOrStdout()
			for _, p := range r.Problems {
				fmt.Fprintln(out, p.String())
			}
			if !r.OK() {
				return withCode(ExitInvalid, fmt.Errorf("%s: %d error(s); nothing was changed", path, len(r.Errors())))
			}
			fmt.Fprintf(out, "%s: OK (%d warning(s))\n", path, len(r.Problems))
			return nil
		},
	}
	check.Flags().StringVarP(&path, "config", "c", "config.yaml", "config file")
	show := &cobra.Command{
		Use:   "show -c config.yaml",
		Short: "Print the effective config (defaults filled in, passwords masked)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadConfig(path)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), r.Config.String())
			return nil
		},
	}
	show.Flags().StringVarP(&path, "config", "c", "config.yaml", "config file")
	cmd.AddCommand(check, show)
	cmd.AddCommand(newConfigSetCmds()...)
	return cmd
}

// loadConfig reads a config and fails (exit 3) on any error-severity problem.
func loadConfig(path string) (*config.Result, error) {
	r, err := config.LoadFile(path)
	if err != nil {
		return nil, withCode(ExitInvalid, err)
	}
	if err := r.Err(); err != nil {
		return nil, withCode(ExitInvalid, fmt.Errorf("%s: %w (run `oms config check -c %s`)", path, err, path))
	}
	return r, nil
}

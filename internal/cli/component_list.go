package cli

import (
	"github.com/spf13/cobra"
)

// withComponentList adds `oms component list` (over the OpenAPI) to the component command.
func withComponentList(cmd *cobra.Command) *cobra.Command {
	var cf clientFlags
	var projectID string
	list := &cobra.Command{
		Use: "list", Short: "List component tasks: kind, region, host, epoch, state, lag", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			comps, err := c.ListComponents(cmd.Context(), projectID)
			if err != nil {
				return apiExit(err)
			}
			return printComponents(cmd.OutOrStdout(), comps)
		},
	}
	cf.register(list)
	list.Flags().StringVar(&projectID, "project", "", "only this project's components")
	cmd.AddCommand(list)
	return cmd
}

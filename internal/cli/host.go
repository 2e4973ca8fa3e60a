package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newHostCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "host", Short: "Inspect the oms nodes of every region"}
	cf.register(cmd)
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List nodes with state, last heartbeat, load and resources", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			hosts, err := c.ListHosts(cmd.Context())
			if err != nil {
				return apiExit(err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "IP\tREGION\tSTATE\tVERSION\tLAST HEARTBEAT\tCOMPONENTS\tCPU\tMEM USED/TOTAL\tDISK USED/TOTAL\tCERT EXPIRES")
			for _, h := range hosts {
				certExp := "-"
				if h.CertNotAfter != nil {
					certExp = h.CertNotAfter.UTC().Format("2006-01-02")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%.0f%%\t%s/%s\t%s/%s\t%s\n", h.IP, h.Region, h.State, orDash(h.Version), h.LastBeat.Format("15:04:05"),
					h.Components, h.CPUPercent, gib(h.MemUsedBytes), gib(h.MemTotalBytes), gib(h.DiskUsedBytes), gib(h.DiskTotalBytes), certExp)
			}
			return w.Flush()
		},
	})
	return cmd
}

func gib(b int64) string { return fmt.Sprintf("%.1fG", float64(b)/(1<<30)) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/api"
)

// newConflictsCmd: `oms project conflicts ID [--limit N] [--csv]`, the conflicts of a two-way
// project and its reverse, newest first, as a table or CSV.
func newConflictsCmd(cf *clientFlags) *cobra.Command {
	var asCSV bool
	var limit int
	cmd := &cobra.Command{
		Use:   "conflicts ID [--limit N] [--csv]",
		Short: "List the conflicts of a two-way project (both directions) with what was decided; --csv exports them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			list, err := c.ListProjectConflicts(cmd.Context(), api.ListProjectConflictsRequest{ID: args[0], Limit: limit})
			if err != nil {
				return apiExit(err)
			}
			if asCSV {
				return api.WriteConflictsCSV(cmd.OutOrStdout(), list)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "DETECTED\tFROM\tINTO\tTABLE\tKEY\tKIND\tPOLICY\tDECISION\tGTID")
			for _, x := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.DetectedAt.UTC().Format("2006-01-02 15:04:05.000"), x.SourceRegion, x.TargetRegion,
					x.Table, x.Key, x.Kind, x.Policy, x.Decision, x.GTID)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "write CSV with both row images (header line, RFC 3339 times)")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many conflicts (newest first, at most 10000)")
	return cmd
}

// showTwoWay prints what `project show` adds for a two-way project: the pair, the DDL region and
// priority, the clock skew and the conflicts, then the other direction's steps.
func showTwoWay(ctx context.Context, c *api.Client, out io.Writer, p api.Project) error {
	tw := p.TwoWay
	if tw == nil {
		return nil
	}
	skew := "not measured yet"
	if tw.ClockSkewSeconds != nil {
		skew = fmt.Sprintf("%+.3fs (±%.3fs, %s minus %s)", *tw.ClockSkewSeconds, tw.ClockSkewUncertainty, tw.TargetRegion, tw.SourceRegion)
	}
	fmt.Fprintf(out, "two-way %s direction %s -> %s; other direction %s; DDL from %s only; priority %s\n", tw.Direction, tw.SourceRegion, tw.TargetRegion,
		tw.PeerID, tw.Settings.DDLRegion, strings.Join(tw.Settings.Priority, " > "))
	fmt.Fprintf(out, "clock skew %s; %d conflicts recorded in this direction (oms project conflicts %s)\n", skew, tw.Conflicts, p.ID)
	peer, err := c.DescribeProject(ctx, tw.PeerID)
	if err != nil {
		return apiExit(err)
	}
	fmt.Fprintf(out, "\nother direction %s (%s): %s", peer.ID, peer.Name, peer.Status)
	if peer.TwoWay != nil {
		fmt.Fprintf(out, ", %s -> %s, %d conflicts", peer.TwoWay.SourceRegion, peer.TwoWay.TargetRegion, peer.TwoWay.Conflicts)
	}
	fmt.Fprintln(out)
	if peer.ErrorCode != "" {
		fmt.Fprintf(out, "error %s: %s\n", peer.ErrorCode, peer.ErrorMessage)
	}
	return printSteps(out, peer.Steps)
}

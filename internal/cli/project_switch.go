package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/project"
)

// newSwitchCmd is `oms project switchover` or `oms project rollback`: the request (precheck and
// plan), then the steps as they run, until the new primary takes writes (the measured downtime)
// or the switch was aborted.
func newSwitchCmd(cf *clientFlags, rollback bool) *cobra.Command {
	var r api.SwitchoverRequest
	var noWait bool
	var timeout time.Duration
	use, short := "switchover ID", "Move the application to the target: precheck, fence, handover, reverse sync (target -> source)"
	call := (*api.Client).SwitchoverProject
	if rollback {
		use, short = "rollback ID", "Move the application back to the source after a switchover, with the same steps and checks"
		call = (*api.Client).RollbackProject
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			r.ID = args[0]
			out := cmd.OutOrStdout()
			plan, err := call(c, cmd.Context(), r)
			printPlan(out, plan)
			if err != nil {
				return apiExit(err)
			}
			if r.DryRun || noWait {
				return nil
			}
			return waitSwitch(cmd.Context(), c, out, r.ID, timeout)
		},
	}
	cmd.Flags().BoolVar(&r.DryRun, "dry-run", false, "run the precheck and print every step with the positions it would use; change nothing")
	cmd.Flags().BoolVar(&r.Fence, "fence", false, "stop the writes with read_only on the old primary (listing its connected sessions)")
	cmd.Flags().BoolVar(&r.WritesStopped, "yes", false, "confirm that the application stopped writing to the old primary (without --fence)")
	cmd.Flags().Float64Var(&r.MaxLagSeconds, "max-lag", project.DefaultSwitchMaxLag, "refuse while the incremental sync lags more than this many seconds")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the request is accepted")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to follow the steps")
	return cmd
}

func printPlan(out io.Writer, p api.SwitchPlan) {
	if p.Operation == "" {
		return
	}
	what := strings.ToLower(p.Operation)
	if p.DryRun {
		what += " (dry run: nothing changes)"
	}
	fmt.Fprintf(out, "%s of project %s: primary %s -> %s\n", what, p.ID, p.From, p.To)
	for _, c := range p.Checks {
		fmt.Fprintf(out, "  check %s\n", c)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i, s := range p.Steps {
		fmt.Fprintf(w, "  %d.\t%s\t%s\n", i+1, s.Name, s.Action)
	}
	_ = w.Flush()
}

// waitSwitch prints each switch step when it changes until the operation is over.
func waitSwitch(ctx context.Context, c *api.Client, out io.Writer, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen := map[string]string{}
	for {
		p, err := c.DescribeProject(ctx, id)
		if err != nil {
			return apiExit(err)
		}
		for _, s := range p.Steps {
			if !slices.Contains(project.SwitchSteps, s.Name) || s.Status == api.StepPending {
				continue
			}
			line := s.Status + " " + s.Message
			if seen[s.Name] != line {
				seen[s.Name] = line
				fmt.Fprintf(out, "%s %-22s %-10s %s\n", time.Now().UTC().Format("15:04:05"), s.Name, s.Status, s.Message)
			}
			if s.Status == api.StepFailed && s.Name != api.StepSwitchPrecheck && (p.Switch == nil || !p.Switch.InProgress) {
				return withCode(ExitFailure, errors.New(s.Message))
			}
		}
		if sw := p.Switch; sw != nil && !sw.InProgress && sw.WritableAt != nil {
			fmt.Fprintf(out, "%s done: the incremental sync now runs %s; measured write downtime %.2fs (fence %s, writable %s)\n",
				strings.ToLower(sw.Operation), sw.Direction, sw.DowntimeSeconds, sw.FencedAt.Format(time.RFC3339Nano), sw.WritableAt.Format(time.RFC3339Nano))
			return nil
		}
		select {
		case <-ctx.Done():
			return withCode(ExitFailure, fmt.Errorf("still switching after %s; follow it with oms project show %s", timeout, id))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

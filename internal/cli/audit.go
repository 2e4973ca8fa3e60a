package cli

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/api"
)

// auditPage is the page size `oms audit list` asks for (the API's maximum).
const auditPage = 1000

// newAuditCmd is `oms audit list` over the OpenAPI: the audit log filtered, as a table or CSV.
func newAuditCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "audit", Short: "Query the audit log (over the OpenAPI)"}
	cf.register(cmd)
	var req api.ListAuditEventsRequest
	var since, until string
	var asCSV bool
	var limit int
	list := &cobra.Command{
		Use:   "list [--user U] [--action A] [--since T] [--until T] [--csv]",
		Short: "List audit records, oldest first (T: RFC 3339 time, or a duration ago like 24h)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			for _, t := range []struct {
				flag, val string
				dst       *string
			}{{"--since", since, &req.From}, {"--until", until, &req.To}} {
				if t.val == "" {
					continue
				}
				at, err := parseWhen(t.val, time.Now())
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("%s %q: %w", t.flag, t.val, err))
				}
				*t.dst = at.UTC().Format(time.RFC3339Nano)
			}
			var all []api.AuditEvent
			req.PageSize = auditPage
			for page := 1; ; page++ {
				req.PageNumber = page
				evs, _, err := c.ListAuditEvents(cmd.Context(), req)
				if err != nil {
					return apiExit(err)
				}
				all = append(all, evs...)
				if len(evs) < auditPage || (limit > 0 && len(all) >= limit) {
					break
				}
			}
			if limit > 0 && len(all) > limit {
				all = all[:limit]
			}
			slices.Reverse(all) // the API answers newest first
			if asCSV {
				return writeAuditCSV(cmd, all)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tTIME\tORIGIN\tUSER\tSOURCE\tACTION\tRESOURCE\tRESULT\tDETAIL")
			for _, e := range all {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.UTC().Format(time.RFC3339), e.Origin, e.UserName, e.RemoteAddr,
					e.Action, e.Resource, result(e.Success), e.Detail)
			}
			return w.Flush()
		},
	}
	fl := list.Flags()
	fl.StringVar(&req.UserName, "user", "", "only this user")
	fl.StringVar(&req.Action, "action", "", "only this action (e.g. CreateProject, config set, deploy)")
	fl.StringVar(&since, "since", "", "from this time (RFC 3339) or this long ago (24h)")
	fl.StringVar(&until, "until", "", "before this time (RFC 3339) or this long ago")
	fl.BoolVar(&asCSV, "csv", false, "write CSV (header line, RFC 3339 times)")
	fl.IntVar(&limit, "limit", 0, "at most this many of the newest records (0: all)")
	cmd.AddCommand(list)
	return cmd
}

func result(ok bool) string {
	if ok {
		return "ok"
	}
	return "failed"
}

func writeAuditCSV(cmd *cobra.Command, evs []api.AuditEvent) error {
	w := csv.NewWriter(cmd.OutOrStdout())
	_ = w.Write([]string{"id", "time", "origin", "user", "source", "action", "resource", "result", "detail", "request_id"})
	for _, e := range evs {
		_ = w.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Origin, e.UserName, e.RemoteAddr, e.Action,
			e.Resource, result(e.Success), e.Detail, e.RequestID})
	}
	w.Flush()
	return w.Error()
}

// parseWhen reads an RFC 3339 time or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("not an RFC 3339 time or a duration like 24h")
	}
	return now.Add(-d), nil
}

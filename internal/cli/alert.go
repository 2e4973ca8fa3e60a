package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsdev/oms/api"
)

// newAlertCmd is `oms alert list|silence|test|rule|channel` over the OpenAPI.
func newAlertCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "alert", Short: "See and manage alerts: list, silence, test-send, rules, channels (over the OpenAPI)"}
	cf.register(cmd)

	var state, projectID string
	list := &cobra.Command{
		Use:   "list [--state pending|firing|resolved] [--project ID]",
		Short: "List alerts, newest change first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			alerts, err := c.ListAlerts(cmd.Context(), api.ListAlertsRequest{State: state, ProjectID: projectID})
			if err != nil {
				return apiExit(err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "STATE\tRULE\tPROJECT\tSUBJECT\tVALUE\tSINCE\tMESSAGE")
			for _, a := range alerts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.4g\t%s\t%s\n", a.State, a.Rule, a.ProjectID, a.Subject, a.Value, a.Since.UTC().Format(time.RFC3339), a.Message)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&state, "state", "", "only alerts in this state")
	list.Flags().StringVar(&projectID, "project", "", "only this project's alerts")

	var sRule, sProject, reason string
	var dur time.Duration
	silence := &cobra.Command{
		Use:   "silence [--rule R] [--project ID] --for 2h [--reason TEXT]",
		Short: "Suppress notifications of a rule and/or project for a while (transitions are still recorded)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			s, err := c.SilenceAlerts(cmd.Context(), api.SilenceAlertsRequest{Rule: sRule, ProjectID: sProject, DurationSeconds: int(dur.Seconds()), Reason: reason})
			if err != nil {
				return apiExit(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence %d until %s\n", s.ID, s.Until.Format(time.RFC3339))
			return nil
		},
	}
	silence.Flags().StringVar(&sRule, "rule", "", "rule to silence (default: every rule)")
	silence.Flags().StringVar(&sProject, "project", "", "project to silence (default: every project)")
	silence.Flags().DurationVar(&dur, "for", time.Hour, "how long")
	silence.Flags().StringVar(&reason, "reason", "", "why (shown in the silence)")

	var channel string
	test := &cobra.Command{
		Use:   "test [--channel NAME]",
		Short: "Send a test notification to every enabled channel (or one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			r, err := c.TestAlertChannels(cmd.Context(), api.TestAlertChannelsRequest{Channel: channel})
			if err != nil {
				return apiExit(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "test notification sent to %d channel(s)\n", r.Sent)
			return nil
		},
	}
	test.Flags().StringVar(&channel, "channel", "", "only this channel")

	var rr api.AlertRule
	var disabled bool
	rule := &cobra.Command{
		Use:   "rule RULE --threshold X --for 60s [--project ID] [--disable]",
		Short: "Override a rule's threshold and duration (for one project, or the default)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			rr.Rule, rr.Enabled = args[0], !disabled
			if err := c.SetAlertRule(cmd.Context(), rr); err != nil {
				return apiExit(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rule %s set\n", rr.Rule)
			return nil
		},
	}
	var ruleFor time.Duration
	rule.Flags().Float64Var(&rr.Threshold, "threshold", 0, "active above this value (below, for store_retention_low)")
	rule.Flags().DurationVar(&ruleFor, "for", 0, "how long the condition must hold before it fires")
	rule.Flags().StringVar(&rr.ProjectID, "project", "", "only for this project")
	rule.Flags().BoolVar(&disabled, "disable", false, "turn the rule off")
	rule.PreRun = func(*cobra.Command, []string) { rr.ForSeconds = int(ruleFor.Seconds()) }

	var ch api.AlertChannel
	var to, secretFile string
	chCmd := &cobra.Command{
		Use:   "channel NAME --webhook URL --secret-file F | --smtp HOST:PORT --from A --to B,C",
		Short: "Create or replace a notification channel (webhook signed with HMAC-SHA256, or email)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ch.Name, ch.Enabled = args[0], true
			switch {
			case ch.URL != "":
				ch.Kind = "webhook"
				if secretFile == "" {
					return withCode(ExitUsage, fmt.Errorf("a webhook needs --secret-file (the HMAC key)"))
				}
				raw, err := os.ReadFile(secretFile)
				if err != nil {
					return withCode(ExitInvalid, fmt.Errorf("read --secret-file: %w", err))
				}
				ch.Secret = strings.TrimRight(string(raw), "\r\n")
			case ch.SMTPAddr != "":
				ch.Kind = "email"
				ch.To = strings.Split(to, ",")
				ch.Password = os.Getenv("OMS_SMTP_PASSWORD")
			default:
				return withCode(ExitUsage, fmt.Errorf("give --webhook URL or --smtp HOST:PORT"))
			}
			if err := c.SetAlertChannel(cmd.Context(), ch); err != nil {
				return apiExit(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "channel %s set\n", ch.Name)
			return nil
		},
	}
	chCmd.Flags().StringVar(&ch.URL, "webhook", "", "webhook URL")
	chCmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the webhook's HMAC-SHA256 key")
	chCmd.Flags().StringVar(&ch.SMTPAddr, "smtp", "", "SMTP server host:port (password from OMS_SMTP_PASSWORD)")
	chCmd.Flags().StringVar(&ch.From, "from", "", "email sender")
	chCmd.Flags().StringVar(&to, "to", "", "comma-separated recipients")
	chCmd.Flags().StringVar(&ch.User, "smtp-user", "", "SMTP user (optional)")

	cmd.AddCommand(list, silence, test, rule, chCmd)
	return cmd
}

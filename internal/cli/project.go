package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/omsdev/oms/internal/deploy"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/buildinfo"
	"github.com/omsdev/oms/internal/project"
	"github.com/omsdev/oms/internal/selection"
)

// clientFlags are how the CLI reaches a node's OpenAPI. The password comes from OMS_PASSWORD or
// --password-file, never from the command line.
type clientFlags struct {
	server, user, passwordFile string
	cluster, region            string
	insecure                   bool
	cmd                        *cobra.Command
}

func (f *clientFlags) register(cmd *cobra.Command) {
	server := os.Getenv("OMS_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8089"
	}
	user := os.Getenv("OMS_USER")
	if user == "" {
		user = "admin"
	}
	cmd.PersistentFlags().StringVar(&f.server, "server", server, "console URL of any node (default $OMS_SERVER or http://127.0.0.1:8089)")
	cmd.PersistentFlags().StringVar(&f.user, "user", user, "console user (default $OMS_USER or admin)")
	cmd.PersistentFlags().StringVar(&f.passwordFile, "password-file", "", "file holding the console password (default: $OMS_PASSWORD)")
	cmd.PersistentFlags().BoolVar(&f.insecure, "insecure", false, "do not verify the console's TLS certificate")
	cmd.PersistentFlags().StringVar(&f.cluster, "cluster", "", "cluster file: reach a region through its cm_url (VIP) instead of --server")
	cmd.PersistentFlags().StringVar(&f.region, "region", "", "with --cluster: the region to reach (default: the cm_is_default region)")
	f.cmd = cmd
}

func (f *clientFlags) client() (*api.Client, error) {
	pw := os.Getenv("OMS_PASSWORD")
	if f.passwordFile != "" {
		raw, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, withCode(ExitInvalid, fmt.Errorf("read --password-file: %w", err))
		}
		pw = strings.TrimRight(string(raw), "\r\n")
	}
	server := f.server
	if f.cluster != "" && (f.cmd == nil || !f.cmd.Flags().Changed("server")) {
		cl, err := loadClusterFile(f.cluster)
		if err != nil {
			return nil, err
		}
		if server, err = deploy.ConsoleURL(cl.Configs(), f.region); err != nil {
			return nil, withCode(ExitUsage, err)
		}
	}
	c := api.NewClient(server, f.user, pw, f.insecure)
	c.UserAgent = api.CLIUserAgent + "/" + buildinfo.Version
	return c, nil
}

// apiExit maps an API failure to an exit code.
func apiExit(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		switch ae.HTTPStatus {
		case 400:
			return withCode(ExitInvalid, err)
		case 409:
			return withCode(ExitConflict, err)
		}
	}
	return withCode(ExitFailure, err)
}

// projectFile is `oms project create -f project.yaml`: the project, and its two data sources
// either by id or inline (created, or reused when one of that name exists).
type projectFile struct {
	Name             string                            `yaml:"name"`
	Source           *api.CreateMysqlDataSourceRequest `yaml:"source"`
	Sink             *api.CreateMysqlDataSourceRequest `yaml:"sink"`
	SourceEndpointID string                            `yaml:"sourceEndpointId"`
	SinkEndpointID   string                            `yaml:"sinkEndpointId"`
	TransferMapping  api.TransferMapping               `yaml:"transferMapping"`
	EnableStruct     *bool                             `yaml:"enableStructTransfer"`
	EnableFull       *bool                             `yaml:"enableFullTransfer"`
	EnableIncr       *bool                             `yaml:"enableIncrTransfer"`
	EnableVerify     *bool                             `yaml:"enableFullVerify"`
	DDLPolicy        map[string]string                 `yaml:"ddlPolicy"`
	Start            bool                              `yaml:"start"`
}

func readProjectFile(path string) (projectFile, error) {
	var pf projectFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return pf, withCode(ExitInvalid, fmt.Errorf("read project file: %w", err))
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil {
		return pf, withCode(ExitInvalid, fmt.Errorf("project file %s: %w", path, err))
	}
	if (pf.Source == nil) == (pf.SourceEndpointID == "") || (pf.Sink == nil) == (pf.SinkEndpointID == "") {
		return pf, withCode(ExitInvalid, fmt.Errorf("project file %s: give exactly one of source / sourceEndpointId and of sink / sinkEndpointId", path))
	}
	// The server checks the selection too; checking here first means a refused row filter
	// creates nothing, not even the inline data sources.
	if _, err := selection.Compile(project.SelectionConfig(pf.TransferMapping)); err != nil {
		return pf, withCode(ExitInvalid, fmt.Errorf("project file %s: transferMapping: %w", path, err))
	}
	return pf, nil
}

func ensureDataSource(ctx context.Context, c *api.Client, r api.CreateMysqlDataSourceRequest) (string, error) {
	list, err := c.ListDataSource(ctx, api.ListDataSourceRequest{SearchKey: r.Name})
	if err != nil {
		return "", err
	}
	for _, d := range list {
		if d.Name == r.Name {
			return d.ID, nil
		}
	}
	ds, err := c.CreateMysqlDataSource(ctx, r)
	return ds.ID, err
}

func newProjectCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "project", Short: "Create, run and inspect migration projects (over the OpenAPI)"}
	cf.register(cmd)

	var file string
	var start bool
	create := &cobra.Command{
		Use:   "create -f project.yaml",
		Short: "Create a project (and its data sources when given inline)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pf, err := readProjectFile(file)
			if err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if pf.Source != nil {
				if pf.SourceEndpointID, err = ensureDataSource(ctx, c, *pf.Source); err != nil {
					return apiExit(err)
				}
			}
			if pf.Sink != nil {
				if pf.SinkEndpointID, err = ensureDataSource(ctx, c, *pf.Sink); err != nil {
					return apiExit(err)
				}
			}
			p, err := c.CreateProject(ctx, api.CreateProjectRequest{Name: pf.Name, SourceEndpointID: pf.SourceEndpointID, SinkEndpointID: pf.SinkEndpointID,
				TransferMapping: pf.TransferMapping, EnableStructTransfer: pf.EnableStruct, EnableFullTransfer: pf.EnableFull,
				EnableIncrTransfer: pf.EnableIncr, EnableFullVerify: pf.EnableVerify, DDLPolicy: pf.DDLPolicy, StartImmediately: start || pf.Start})
			if err != nil {
				return apiExit(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\n", p.ID, p.Name, p.Status)
			return nil
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "project.yaml", "project file")
	create.Flags().BoolVar(&start, "start", false, "start the project right away")

	verb := func(use, short string, f func(*api.Client, context.Context, string) error) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := cf.client()
				if err != nil {
					return err
				}
				if err := f(c, cmd.Context(), args[0]); err != nil {
					return apiExit(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s requested\n", args[0], use)
				return nil
			},
		}
	}
	list := &cobra.Command{
		Use: "list", Short: "List projects", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ps, err := c.ListProjects(cmd.Context(), api.ListProjectsRequest{PageSize: 1000})
			if err != nil {
				return apiExit(err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSTATUS\tSOURCE\tSINK\tCREATED")
			for _, p := range ps {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.Status, p.SourceEndpointID, p.SinkEndpointID, p.CreatedAt.Format(time.DateTime))
			}
			return w.Flush()
		},
	}
	show := &cobra.Command{
		Use: "show ID", Short: "Show a project with per-step progress and its components", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			return showProject(cmd.Context(), c, cmd.OutOrStdout(), args[0])
		},
	}
	var skipGTIDs []string
	var skipEvent bool
	skip := &cobra.Command{
		Use:   "skip ID (--gtid G ... | --event)",
		Short: "Never apply some source transactions (DDL or DML): GTIDs, ranges, or the one Incr-Sync stopped at; then resume",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			res, err := c.SkipProjectEvents(cmd.Context(), api.SkipProjectEventsRequest{ID: args[0], GTIDs: skipGTIDs, Event: skipEvent})
			if err != nil {
				return apiExit(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: skipping %s (all skips: %s); resume the project to go on\n", args[0], strings.Join(res.Added, ", "), strings.Join(res.SkipGTIDs, ", "))
			return nil
		},
	}
	skip.Flags().StringSliceVar(&skipGTIDs, "gtid", nil, "GTID or range to skip: 0-1-123, 0-1-120-130, UUID:N[-M] (repeatable)")
	skip.Flags().BoolVar(&skipEvent, "event", false, "skip exactly the transaction Incr-Sync stopped at")
	cmd.AddCommand(create, skip,
		verb("retry", "Restart a failed project's failed components unchanged (after fixing the cause)", (*api.Client).RetryProject),
		verb("start", "Start an INIT project", (*api.Client).StartProject),
		verb("pause", "Pause a running project (SUSPEND); components stop at their checkpoints", (*api.Client).StopProject),
		verb("resume", "Resume a suspended or failed project", (*api.Client).ResumeProject),
		verb("release", "Release a project: stop and remove its components", (*api.Client).ReleaseProject),
		verb("delete", "Delete an INIT or RELEASED project", (*api.Client).DeleteProject),
		list, show, newVerifyResultCmd(&cf), newSwitchCmd(&cf, false), newSwitchCmd(&cf, true), newConflictsCmd(&cf))
	return cmd
}

func showProject(ctx context.Context, c *api.Client, out io.Writer, id string) error {
	p, err := c.DescribeProject(ctx, id)
	if err != nil {
		return apiExit(err)
	}
	comps, err := c.DescribeProjectComponents(ctx, id)
	if err != nil {
		return apiExit(err)
	}
	fmt.Fprintf(out, "project %s (%s): %s\n", p.ID, p.Name, p.Status)
	if p.ErrorCode != "" {
		fmt.Fprintf(out, "error %s: %s\n", p.ErrorCode, p.ErrorMessage)
	}
	if len(p.SkipGTIDs) > 0 {
		fmt.Fprintf(out, "skipped source transactions: %s\n", strings.Join(p.SkipGTIDs, ", "))
	}
	if sw := p.Switch; sw != nil {
		primary := p.SourceEndpointID
		if sw.Direction == api.DirectionReverse {
			primary = p.SinkEndpointID
		}
		fmt.Fprintf(out, "direction %s (primary %s)", sw.Direction, primary)
		if sw.InProgress {
			fmt.Fprintf(out, "; %s in progress", strings.ToLower(sw.Operation))
		} else if sw.WritableAt != nil {
			fmt.Fprintf(out, "; last %s: write downtime %.2fs", strings.ToLower(sw.Operation), sw.DowntimeSeconds)
		}
		fmt.Fprintln(out)
	}
	if err := printSteps(out, p.Steps); err != nil {
		return err
	}
	if err := showTwoWay(ctx, c, out, p); err != nil {
		return err
	}
	if len(comps) > 0 {
		fmt.Fprintln(out)
		return printComponents(out, comps)
	}
	return nil
}

// printSteps prints a project's steps with their progress and detail.
func printSteps(out io.Writer, steps []api.Step) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STEP\tSTATUS\tPROGRESS\tDETAIL")
	for _, s := range steps {
		detail := s.Message
		if v, ok := s.Metrics["rows_done"]; ok && s.Name == api.StepFull {
			detail = fmt.Sprintf("%.0f/%.0f rows; %s", v, s.Metrics["rows_total"], detail)
		}
		if v, ok := s.Metrics["lag_seconds"]; ok && (s.Name == api.StepIncr || s.Name == api.StepReverseIncr) {
			detail = fmt.Sprintf("lag %.1fs; %s", v, detail)
		}
		if v, ok := s.Metrics["differences"]; ok && s.Name == api.StepFullVerifier {
			detail = fmt.Sprintf("%.0f differences; %s", v, detail)
		}
		fmt.Fprintf(w, "%s\t%s\t%.0f%%\t%s\n", s.Name, s.Status, s.Progress, detail)
	}
	return w.Flush()
}

func printComponents(out io.Writer, comps []api.Component) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tKIND\tREGION\tHOST\tEPOCH\tDESIRED\tSTATE\tLAG\tPOSITION/ERROR")
	for _, c := range comps {
		pos := c.Position
		if c.ErrorCode != "" {
			pos = c.ErrorCode + ": " + c.ErrorMessage
		}
		if len(pos) > 80 {
			pos = pos[:77] + "..."
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.1fs\t%s\n", c.ID, c.Kind, c.Region, c.Host, c.Epoch, c.DesiredState, c.State, c.LagSeconds, pos)
	}
	return w.Flush()
}

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"github.com/omsdev/oms/internal/component"
)

// componentFactory builds a data component from its spec.
type componentFactory func(spec component.Spec, log *slog.Logger) (component.Unit, error)

// componentKinds is filled by the component_<kind>.go files of this package.
var componentKinds = map[string]componentFactory{}

func registerComponent(kind string, f componentFactory) { componentKinds[kind] = f }

func newComponentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "component",
		Short: "Run one data component (the supervisor starts these as child processes)",
	}
	kinds := make([]string, 0, len(componentKinds))
	for k := range componentKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		f := componentKinds[kind]
		var specPath string
		sub := &cobra.Command{
			Use:   kind + " --spec FILE",
			Short: "Run the " + kind + " component from a spec file",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return runComponent(kind, specPath, f)
			},
		}
		sub.Flags().StringVar(&specPath, "spec", "", "component spec file (JSON, written by the supervisor)")
		_ = sub.MarkFlagRequired("spec")
		cmd.AddCommand(sub)
	}
	return cmd
}

func runComponent(kind, specPath string, f componentFactory) error {
	spec, err := component.ReadSpec(specPath)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	if spec.Kind != kind {
		return withCode(ExitInvalid, fmt.Errorf("spec %s is for kind %q, not %q", specPath, spec.Kind, kind))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("kind", kind, "task", spec.TaskID, "epoch", spec.Epoch)
	// the MySQL driver's own messages (a lost connection while retrying) go to the component
	// log as structured lines, not bare text on stderr
	_ = mysql.SetLogger(driverLog{log, slog.LevelWarn})
	unit, err := f(spec, log)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return withCode(ExitFailure, component.Host(ctx, spec, unit, log))
}

// driverLog adapts slog to the MySQL driver's logger, so its messages (a lost connection while
// retrying, `[mysql] ... packets.go: unexpected EOF`) are structured log records, never bare
// text on a terminal.
type driverLog struct {
	log   *slog.Logger
	level slog.Level
}

func (d driverLog) Print(v ...any) {
	d.log.Log(context.Background(), d.level, "mysql driver", "msg", fmt.Sprint(v...))
}

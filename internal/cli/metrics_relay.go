package cli

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/tsdb"
)

// newMetricsRelayCmd is the hidden `oms metrics-relay`: a node's monitoring path (scrape a
// component's /metrics, sample into the window and InfluxDB) around a component that runs
// without a node, so bench/incr_apply.sh can measure what monitoring costs the data path.
func newMetricsRelayCmd() *cobra.Command {
	var scrape, tsdbURL, user, pwFile string
	var interval time.Duration
	cmd := &cobra.Command{
		Use:    "metrics-relay --scrape HOST:PORT [--tsdb-url HOST:PORT --tsdb-user U --tsdb-password-file F]",
		Short:  "Scrape a component's /metrics into the recent window and InfluxDB (benchmarks)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			client := &http.Client{Timeout: 2 * time.Second}
			g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
				sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				return metrics.Scrape(sctx, client, "http://"+strings.TrimPrefix(scrape, "http://")+"/metrics")
			})
			sinks := []metrics.Sink{metrics.NewWindow()}
			eg, ectx := errgroup.WithContext(ctx)
			if tsdbURL != "" {
				var pw string
				if pwFile != "" {
					raw, err := os.ReadFile(pwFile)
					if err != nil {
						return withCode(ExitInvalid, err)
					}
					pw = strings.TrimRight(string(raw), "\r\n")
				}
				w := tsdb.NewWriter(tsdb.WriterConfig{URL: tsdbURL, Username: user, Password: config.Secret(pw), Interval: interval}, log)
				sinks = append(sinks, w)
				eg.Go(func() error { return w.Run(ectx) })
			}
			eg.Go(func() error { return metrics.RunSampler(ectx, g, interval, log, sinks...) })
			return eg.Wait()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&scrape, "scrape", "", "host:port of the component's status server")
	fl.StringVar(&tsdbURL, "tsdb-url", "", "InfluxDB host:port (none: window only)")
	fl.StringVar(&user, "tsdb-user", "", "InfluxDB user")
	fl.StringVar(&pwFile, "tsdb-password-file", "", "file holding the InfluxDB password")
	fl.DurationVar(&interval, "interval", time.Second, "sample interval")
	return cmd
}

package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/alert"
	"github.com/omsdev/oms/internal/buildinfo"
	"github.com/omsdev/oms/internal/clusterca"
	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/cm"
	"github.com/omsdev/oms/internal/console"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/project"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/supervisor"
)

type nodeFlags struct {
	config, hostIP, dataDir, adminPasswordFile string
	consolePort, cmPort, supervisorPort        int
	downAfter, metricsInterval, alertInterval  time.Duration
}

func newNodeCmd() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node -c config.yaml",
		Short: "Run this host's oms node: console + OpenAPI (8089), CM (8088) and supervisor (9000)",
		Long: `Runs the console and OpenAPI, the cluster manager and the supervisor of one host, configured by
config.yaml and the MetaDB it names. The host IP (--host-ip or OMS_HOST_IP) must be one of cm_nodes.
The first node to start creates the admin user with the password in OMS_ADMIN_PASSWORD or the file
given by --admin-password-file (never on the command line).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNode(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "config.yaml", "config file")
	fl.StringVar(&f.hostIP, "host-ip", os.Getenv("OMS_HOST_IP"), "this host's IP, one of cm_nodes (default $OMS_HOST_IP)")
	fl.StringVar(&f.dataDir, "data-dir", "/home/ds", "data directory (run/<task> holds the components' files)")
	fl.StringVar(&f.adminPasswordFile, "admin-password-file", "", "file holding the admin password for the first start (or set OMS_ADMIN_PASSWORD)")
	fl.IntVar(&f.consolePort, "console-port", 0, "console/OpenAPI port (default nginx_server_port, 8089)")
	fl.IntVar(&f.cmPort, "cm-port", 0, "CM port (default cm_server_port, 8088)")
	fl.IntVar(&f.supervisorPort, "supervisor-port", 0, "supervisor port (default supervisor_server_port, 9000)")
	fl.DurationVar(&f.downAfter, "host-down-after", 0, "override host_down_timeout of config.yaml: a host whose last heartbeat is older than this is down and its tasks move")
	fl.DurationVar(&f.metricsInterval, "metrics-interval", metrics.SampleInterval, "how often the node samples its series into its recent window and InfluxDB")
	_ = fl.MarkHidden("metrics-interval") // tests shorten it
	fl.DurationVar(&f.alertInterval, "alert-interval", alert.DefaultInterval, "how often the alert leader evaluates the rules and delivers notifications")
	_ = fl.MarkHidden("alert-interval")
	return cmd
}

func runNode(parent context.Context, f nodeFlags) error {
	r, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	cfg := r.Config
	if f.hostIP == "" {
		return withCode(ExitInvalid, omserr.New(omserr.NodeHostIPMissing, "this host's IP is not set", "pass --host-ip or set OMS_HOST_IP to one of cm_nodes: "+strings.Join(cfg.CMNodes, ", ")))
	}
	if !slices.Contains(cfg.CMNodes, f.hostIP) {
		return withCode(ExitInvalid, omserr.New(omserr.NodeHostIPUnknown, fmt.Sprintf("host IP %s is not one of cm_nodes (%s)", f.hostIP, strings.Join(cfg.CMNodes, ", ")),
			"add it to cm_nodes in "+f.config+" or pass the right --host-ip"))
	}
	ports := map[string]*int{"console": &cfg.ConsolePort, "cm": &cfg.CMPort, "supervisor": &cfg.SupervisorPort}
	for name, p := range map[string]int{"console": f.consolePort, "cm": f.cmPort, "supervisor": f.supervisorPort} {
		if p != 0 {
			*ports[name] = p
		}
	}
	adminPW := os.Getenv("OMS_ADMIN_PASSWORD")
	_ = os.Unsetenv("OMS_ADMIN_PASSWORD") // read once; children never see it (the supervisor scrubs their env too)
	if f.adminPasswordFile != "" {
		raw, err := os.ReadFile(f.adminPasswordFile)
		if err != nil {
			return withCode(ExitInvalid, fmt.Errorf("read --admin-password-file: %w", err))
		}
		adminPW = strings.TrimRight(string(raw), "\r\n")
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return withCode(ExitFailure, fmt.Errorf("create data dir: %w", err))
	}
	bin, err := os.Executable()
	if err != nil {
		return withCode(ExitFailure, fmt.Errorf("find own binary: %w", err))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("host", f.hostIP)
	_ = mysql.SetLogger(driverLog{log, slog.LevelWarn})

	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	db, err := metadb.Open(ctx, cfg)
	if err != nil {
		return withCode(ExitFailure, err)
	}
	defer db.Close()
	names := metadb.NamesFrom(cfg)
	if _, err := metadb.Init(ctx, db, names); err != nil {
		code := ExitFailure
		if c := omserr.CodeOf(err); c == omserr.MetaDBSchemaNewer || c == omserr.MetaDBUnsupportedVersion {
			code = ExitConflict
		}
		return withCode(code, err)
	}
	keys, err := secret.Load(ctx, db, names.CM)
	if err != nil {
		return withCode(ExitFailure, err)
	}
	// The node's cluster certificate (internal links: CM, supervisor, components, Store stream).
	certs, err := clusterca.NewKeeper(ctx, db, names.CM, keys, f.hostIP, clusterca.OperatorCert{CertFile: cfg.NodeTLSCrt, KeyFile: cfg.NodeTLSKey}, log)
	if err != nil {
		return withCode(ExitFailure, err)
	}
	projects := project.NewService(db, names, keys, cfg.CMRegion, log)
	con := console.New(db, names, projects, f.hostIP, log)
	notifier := alert.NewNotifier(db, names.CM, keys, log)
	con.SetAlerts(notifier)
	con.SetNodeTransport(clustertls.Transport(certs.Source(), nil))
	created, err := con.EnsureAdmin(ctx, adminPW)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	if created {
		log.Info("created the admin user")
	}
	downAfter := cfg.HostDownTimeout.D()
	if f.downAfter > 0 {
		downAfter = f.downAfter
	}
	mgr := cm.New(db, cm.Options{Config: cfg, HostIP: f.hostIP, DataDir: f.dataDir, Version: buildinfo.Version, DownAfter: downAfter, Interval: cfg.HeartbeatInterval.D(),
		ConsolePort: cfg.ConsolePort, CMPort: cfg.CMPort, SupervisorPort: cfg.SupervisorPort}, projects, log)
	if err := mgr.Register(ctx); err != nil {
		return withCode(ExitFailure, err)
	}
	certs.OnRenew = mgr.RecordCert
	mgr.RecordCert(ctx, certs.NotAfter())
	sup := supervisor.New(db, supervisor.Options{Config: cfg, HostIP: f.hostIP, DataDir: f.dataDir, Binary: bin, Heartbeat: cfg.HeartbeatInterval.D(), Certs: certs}, keys, log)
	mon := newNodeMonitor(cfg, f.hostIP, f.metricsInterval, sup, log)
	clusterTLS := clustertls.ServerConfig(certs.Source())

	var tlsCfg *tls.Config
	if cfg.HTTPSKey != "" && cfg.HTTPSCrt != "" {
		cert, err := tls.LoadX509KeyPair(cfg.HTTPSCrt, cfg.HTTPSKey)
		if err != nil {
			return withCode(ExitInvalid, omserr.Wrap(err, omserr.NodeTLSInvalid, "cannot load https_crt/https_key", "point https_crt and https_key at a PEM certificate and its key"))
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	servers := []struct {
		name    string
		port    int
		handler http.Handler
		tls     *tls.Config
	}{
		{"console", cfg.ConsolePort, con.Handler(), tlsCfg},
		{"cm", cfg.CMPort, mgr.Handler(), clusterTLS},
		{"supervisor", cfg.SupervisorPort, mon.handler(sup.Handler()), clusterTLS},
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		addr := net.JoinHostPort(f.hostIP, strconv.Itoa(s.port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return withCode(ExitFailure, omserr.Wrap(err, omserr.NodeListen, "cannot listen on "+addr+" for the "+s.name, "free the port or choose another with --"+s.name+"-port"))
		}
		if s.tls != nil {
			ln = tls.NewListener(ln, s.tls)
		}
		srv := clustertls.NewServer(s.handler, log.With("service", s.name))
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s server: %w", s.name, err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
		log.Info("serving", "service", s.name, "addr", addr, "tls", s.tls != nil)
	}
	g.Go(func() error { return mgr.Run(gctx) })
	g.Go(func() error { return sup.Run(gctx) })
	g.Go(func() error { return mon.run(gctx) })
	g.Go(func() error { return mon.runAuditExport(gctx, db, cfg, f.hostIP) })
	g.Go(func() error { return mon.runAlerts(gctx, db, cfg, f.hostIP, notifier, f.alertInterval) })
	g.Go(func() error { return certs.Run(gctx) })
	log.Info("node started", "region", cfg.CMRegion, "version", buildinfo.Version)
	if err := g.Wait(); err != nil {
		return withCode(ExitFailure, err)
	}
	log.Info("node stopped")
	return nil
}

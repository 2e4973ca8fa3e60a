package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/deploy"
	"github.com/omsdev/oms/internal/tsdb"
)

// deployFlags are the deployment script's flags (-o, -c, -i, -d) plus the SSH login and the
// console admin password; shared by deploy, deploy add-node, config set and config apply.
type deployFlags struct {
	installDir, configPath, hostIP, binary string
	sshUser, sshKey, sshPasswordFile       string
	sudoPasswordFile                       string
	sshKnownHosts                          string
	sshPort                                int
	adminPasswordFile                      string
	region                                 string
	healthTimeout                          time.Duration
}

func (f *deployFlags) register(cmd *cobra.Command, withRegion bool) {
	fs := cmd.Flags()
	fs.StringVarP(&f.installDir, "install-dir", "o", "/home/oms", "installation directory on every node (bin, conf, logs, store, run); {ip} is replaced by the node's IP")
	fs.StringVarP(&f.configPath, "config", "c", "", "config.yaml, a cluster file (one document per region) or a directory of them")
	fs.StringVarP(&f.hostIP, "host-ip", "i", "", "this host's IP, one of cm_nodes: its node is installed without SSH (empty: every node over SSH)")
	fs.StringVarP(&f.binary, "package", "d", "", "the oms package (oms-<version>-linux-amd64.tar.gz from make dist) or binary to install (default: this binary)")
	fs.StringVar(&f.sshUser, "ssh-user", "root", "SSH user on remote nodes (not root: needs sudo, passwordless or with the SSH password)")
	fs.StringVar(&f.sshKey, "ssh-key", "", "SSH private key file")
	fs.StringVar(&f.sshPasswordFile, "ssh-password-file", "", "file holding the SSH password (or set OMS_SSH_PASSWORD)")
	fs.StringVar(&f.sudoPasswordFile, "sudo-password-file", "", "file holding the sudo password of a non-root SSH user, when it is not the SSH password (or set OMS_SUDO_PASSWORD)")
	fs.StringVar(&f.sshKnownHosts, "ssh-known-hosts", "", "check host keys against this known_hosts file (default: accept any host key)")
	fs.IntVar(&f.sshPort, "ssh-port", 22, "SSH port of remote nodes")
	fs.StringVar(&f.adminPasswordFile, "admin-password-file", "", "file holding the console admin password (or set OMS_ADMIN_PASSWORD)")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 90*time.Second, "how long to wait for each node's /oms/health")
	if withRegion {
		fs.StringVar(&f.region, "region", "", "only this region")
	}
}

// target reads the flags into a Target. A package given with -d is unpacked into a temporary
// folder that done removes: callers defer it.
func (f *deployFlags) target() (t deploy.Target, done func(), err error) {
	done = func() {}
	bin := f.binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return t, done, withCode(ExitUsage, fmt.Errorf("-d: cannot find this binary: %w", err))
		}
		bin = exe
	}
	sshPW, err := secretFrom(f.sshPasswordFile, "OMS_SSH_PASSWORD")
	if err != nil {
		return t, done, err
	}
	sudoPW, err := secretFrom(f.sudoPasswordFile, "OMS_SUDO_PASSWORD")
	if err != nil {
		return t, done, err
	}
	admin, err := secretFrom(f.adminPasswordFile, "OMS_ADMIN_PASSWORD")
	if err != nil {
		return t, done, err
	}
	if deploy.IsPackage(bin) {
		dir, err := os.MkdirTemp("", "oms-package-")
		if err != nil {
			return t, done, err
		}
		done = func() { os.RemoveAll(dir) }
		if bin, err = deploy.BinaryFromPackage(bin, dir); err != nil {
			done()
			return t, func() {}, withCode(ExitInvalid, err)
		}
	}
	return deploy.Target{InstallDir: f.installDir, HostIP: f.hostIP, Binary: bin, AdminPassword: admin, Region: f.region,
		SSH: deploy.SSHLogin{User: f.sshUser, Password: sshPW, SudoPassword: sudoPW, KeyFile: f.sshKey, KnownHosts: f.sshKnownHosts, Port: f.sshPort}}, done, nil
}

func (f *deployFlags) installer(out io.Writer) *deploy.Installer {
	return &deploy.Installer{Out: out, HealthTimeout: f.healthTimeout}
}

// secretFrom reads a password from a file (first line) or an environment variable.
func secretFrom(file, env string) (config.Secret, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", withCode(ExitUsage, fmt.Errorf("read password file: %w", err))
		}
		return config.Secret(strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")), nil
	}
	return config.Secret(os.Getenv(env)), nil
}

func newDeployCmd() *cobra.Command {
	var f deployFlags
	var answers, outDir string
	var wizard, checkOnly bool
	cmd := &cobra.Command{
		Use:   "deploy [-o DIR] [-c FILE|DIR] [-i IP] [-d BINARY]",
		Short: "Deploy OMS on the nodes of one or more regions (wizard, or from config files)",
		Long: `Without -c (or with --wizard) the deployment wizard asks the deployment guide's questions,
writes oms-cluster.yaml and deploys region after region. Answers come from the terminal, or one
per line from --answers FILE (or stdin when it is not a terminal), so it is scriptable.

With -c, every region of the config is checked first (file rules, cross-region rules, flags, the
MetaDB, the time-series database, SSH reachability) and all problems are printed before any host
is touched; then the regions deploy one after another, the default region first. Re-running is
idempotent (a rolling restart).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if checkOnly && (f.configPath == "" || wizard) {
				return withCode(ExitUsage, fmt.Errorf("--check checks a config file: give -c FILE (and no --wizard)"))
			}
			t, done, err := f.target()
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			if f.configPath != "" && !wizard {
				cl, err := config.LoadCluster(f.configPath)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				probs := deploy.CheckCluster(ctx, cl, t, true)
				if len(probs) > 0 {
					fmt.Fprintf(out, "%s fails the checks; nothing was changed:\n  %s\n", f.configPath, strings.Join(probs, "\n  "))
					if answers == "" && term.IsTerminal(int(os.Stdin.Fd())) {
						p := deploy.NewPrompter(os.Stdin, out)
						fix, perr := p.Confirm("Fix the settings interactively?")
						if perr == nil && fix {
							return runWizard(ctx, cmd, &f, t, p, filepath.Dir(f.configPath), true)
						}
					}
					return withCode(ExitInvalid, fmt.Errorf("%d problem(s) in the deployment; fix them and run again", len(probs)))
				}
				if checkOnly {
					fmt.Fprintf(out, "%s: all checks passed (%d region(s)).\n", f.configPath, len(cl.Regions))
					return nil
				}
				if err := deploy.DeployCluster(ctx, f.installer(out), cl.Configs(), t, out); err != nil {
					return withCode(ExitFailure, err)
				}
				fmt.Fprintln(out, "Deployment finished.")
				return nil
			}
			var in io.Reader = os.Stdin
			if answers != "" && answers != "-" {
				af, err := os.Open(answers)
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("--answers: %w", err))
				}
				defer af.Close()
				in = af
			} else if answers == "" && cmd.InOrStdin() != os.Stdin {
				in = cmd.InOrStdin()
			}
			if outDir == "" {
				outDir = "."
				if f.configPath != "" {
					if st, err := os.Stat(f.configPath); err == nil && !st.IsDir() {
						outDir = filepath.Dir(f.configPath)
					}
				}
			}
			return runWizard(ctx, cmd, &f, t, deploy.NewPrompter(in, out), outDir, false)
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&answers, "answers", "", "read the wizard's answers from this file, one per line ('-': stdin)")
	cmd.Flags().BoolVar(&wizard, "wizard", false, "run the wizard even with -c (its task 2 uses the -c file)")
	cmd.Flags().StringVar(&outDir, "out", "", "where the wizard writes oms-cluster.yaml and config-<region>.yaml (default: -c's directory or .)")
	cmd.Flags().BoolVar(&checkOnly, "check", false, "with -c: run every check and stop")
	cmd.AddCommand(newDeployAddNodeCmd(), newDeployUnitCmd())
	clusterFile := func() string {
		if f.configPath != "" && !wizard {
			return f.configPath
		}
		if outDir != "" {
			return outDir
		}
		if f.configPath != "" {
			return filepath.Dir(f.configPath)
		}
		return "."
	}
	auditedCmd(cmd, audit.OriginDeploy, clusterFile, func([]string) string { return clusterFile() }, func() bool { return checkOnly })
	return cmd
}

func runWizard(ctx context.Context, cmd *cobra.Command, f *deployFlags, t deploy.Target, p *deploy.Prompter, outDir string, fix bool) error {
	w := deploy.NewWizard(p, deploy.WizardOptions{
		InstallDir: t.InstallDir, ConfigPath: f.configPath, HostIP: t.HostIP, Binary: t.Binary,
		BinaryVersion: binaryVersion, OutDir: outDir, SSHUser: t.SSH.User, SSHKeyFile: t.SSH.KeyFile,
		Fix: fix, Probe: deploy.ProbeMetaDB, Registered: deploy.RegisteredRegions, TSDBProbe: tsdb.Check, Deployer: f.installer(cmd.OutOrStdout()),
	})
	if err := w.Run(ctx); err != nil {
		return withCode(ExitFailure, err)
	}
	return nil
}

// binaryVersion runs `BINARY version` to show what will be installed.
func binaryVersion(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version").Output()
	if err != nil {
		return "oms (version unknown: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func newDeployAddNodeCmd() *cobra.Command {
	var f deployFlags
	var ip string
	cmd := &cobra.Command{
		Use:   "add-node -c CLUSTER_FILE --region REGION --ip IP",
		Short: "Scale out: add a host to a running region and update every node's cm_nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.configPath == "" || ip == "" {
				return withCode(ExitUsage, fmt.Errorf("give -c CLUSTER_FILE and --ip IP"))
			}
			t, done, err := f.target()
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			cl, err := openClusterFile(f.configPath) // checked below, with the new node
			if err != nil {
				return err
			}
			cs := cl.Configs()
			region := f.region
			if region == "" && len(cs) == 1 {
				region = cs[0].CMRegion
			}
			var nodes []string
			for _, c := range cs {
				if c.CMRegion == region {
					nodes = append(append(nodes, c.CMNodes...), ip)
				}
			}
			if nodes == nil {
				return withCode(ExitUsage, fmt.Errorf("--region %q is not a region of %s", region, f.configPath))
			}
			cs, err = deploy.SetKey(cs, "cm_nodes", strings.Join(nodes, ","), region)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			ncl := config.ParseCluster(config.FormatCluster(cs), f.configPath)
			t.Region = region
			if probs := deploy.CheckCluster(cmd.Context(), ncl, t, true); len(probs) > 0 {
				return withCode(ExitInvalid, fmt.Errorf("adding %s fails the checks; nothing was changed:\n  %s", ip, strings.Join(probs, "\n  ")))
			}
			inst := f.installer(out)
			var rc config.Config
			for _, c := range ncl.Configs() {
				if c.CMRegion == region {
					rc = c
				}
			}
			if err := inst.SetupRegion(cmd.Context(), rc); err != nil {
				return withCode(ExitFailure, err)
			}
			if err := inst.InstallNode(cmd.Context(), t.Node(rc, ip)); err != nil {
				return withCode(ExitFailure, fmt.Errorf("add node %s: %w (the cluster file is unchanged)", ip, err))
			}
			if err := os.WriteFile(f.configPath, config.FormatCluster(ncl.Configs()), 0o600); err != nil {
				return withCode(ExitFailure, fmt.Errorf("node %s runs, but writing %s failed: %w", ip, f.configPath, err))
			}
			fmt.Fprintf(out, "Node %s joined region %s; updating cm_nodes on the other nodes (rolling restart).\n", ip, region)
			t.AdminPassword = "" // the other nodes keep theirs
			for _, n := range rc.CMNodes {
				if n == ip {
					continue
				}
				if err := inst.InstallNode(cmd.Context(), t.Node(rc, n)); err != nil {
					return withCode(ExitFailure, fmt.Errorf("update node %s: %w", n, err))
				}
			}
			fmt.Fprintf(out, "Region %s now has %d node(s): %s\n", region, len(rc.CMNodes), strings.Join(rc.CMNodes, ", "))
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&ip, "ip", "", "IP of the host to add")
	auditedCmd(cmd, audit.OriginDeploy, func() string { return f.configPath }, func([]string) string { return "node " + ip }, nil)
	return cmd
}

// checkedCluster is the start of every command that changes a running deployment from its
// cluster file (config apply, upgrade): the deploy target, the file loaded and checked against
// the nodes; on a failed check nothing is changed and the error lists the problems.
func (f *deployFlags) checkedCluster(ctx context.Context, what string) (*config.Cluster, deploy.Target, func(), error) {
	t, done, err := f.target()
	if err != nil {
		return nil, t, done, err
	}
	cl, err := openClusterFile(f.configPath)
	if err == nil {
		if probs := deploy.CheckCluster(ctx, cl, t, false); len(probs) > 0 {
			err = withCode(ExitInvalid, fmt.Errorf("%s fails the %s; nothing was changed:\n  %s", f.configPath, what, strings.Join(probs, "\n  ")))
		}
	}
	if err != nil {
		done()
		return nil, t, func() {}, err
	}
	return cl, t, done, nil
}

// loadClusterFile loads a cluster file (not a directory: commands that rewrite it need one file)
// and refuses it when it has errors.
func loadClusterFile(path string) (*config.Cluster, error) {
	cl, err := openClusterFile(path)
	if err != nil {
		return nil, err
	}
	if err := cl.Err(); err != nil {
		return nil, withCode(ExitInvalid, err)
	}
	return cl, nil
}

// openClusterFile loads a cluster file for a command that checks it with deploy.CheckCluster
// next: that check also reads the MetaDB (a file of later regions alone has its default region
// there).
func openClusterFile(path string) (*config.Cluster, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, withCode(ExitUsage, fmt.Errorf("%s is a directory: give the cluster file (oms-cluster.yaml)", path))
	}
	cl, err := config.LoadCluster(path)
	if err != nil {
		return nil, withCode(ExitInvalid, err)
	}
	return cl, nil
}

// newDeployUnitCmd prints the systemd unit deploy installs on nodes that run systemd (make dist
// puts one in the package for people who install by hand).
func newDeployUnitCmd() *cobra.Command {
	var dir, ip string
	cmd := &cobra.Command{
		Use:   "unit -o INSTALL_DIR -i HOST_IP",
		Short: "Print the oms-node systemd unit that deploy installs where systemd runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || ip == "" {
				return withCode(ExitUsage, fmt.Errorf("give the install directory (-o) and the node's IP (-i)"))
			}
			fmt.Fprint(cmd.OutOrStdout(), deploy.SystemdUnit(dir, ip, dir+"/logs/oms-node.log"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "install-dir", "o", "", "installation directory of the node")
	cmd.Flags().StringVarP(&ip, "ip", "i", "", "the node's IP (one of cm_nodes)")
	return cmd
}

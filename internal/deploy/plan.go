// Package deploy is oms's deployment tool: the wizard that asks the deployment guide's questions
// and writes config files, the checks of a cluster file before any host is touched, the MetaDB
// set-up of each region, and the installation of `oms node` on each host — locally, or over SSH
// (x/crypto/ssh) — with a health check and the tail of the node's start-up log on failure.
//
// It talks to the MetaDB (through internal/metadb), to each host (a Runner: a local shell or an
// SSH session) and to each node's health endpoint over HTTP. It owns nothing that runs after the
// deployment: the nodes themselves register and heartbeat.
package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/safepath"
)

// SSHLogin is how to log in to a remote node. A user other than root needs sudo: passwordless,
// or with SudoPassword (else Password) given to `sudo -S` on stdin.
type SSHLogin struct {
	User         string
	Password     config.Secret // empty: use KeyFile
	SudoPassword config.Secret // sudo's password when it is not the SSH password
	KeyFile      string
	KnownHosts   string // when set, host keys are checked against this file
	Port         int    // 0: 22
}

// Node is one host to install: its region's config as this node runs it, where to install, and
// how to reach it.
type Node struct {
	IP            string
	Config        config.Config
	InstallDir    string
	Local         bool // this host (-i): no SSH
	SSH           SSHLogin
	Binary        string        // the oms binary to install
	TLSKey        string        // local files installed as the console's https_key/https_crt ("" for none)
	TLSCrt        string        //
	AdminPassword config.Secret // the console admin password
}

func (n Node) String() string { return fmt.Sprintf("%s (region %s)", n.IP, n.Config.CMRegion) }

// Deployer does the work the wizard and `oms deploy -c` decide on.
type Deployer interface {
	// SetupRegion runs a region's one-time set-up (MetaDB databases, the region row). It is safe
	// to repeat.
	SetupRegion(ctx context.Context, c config.Config) error
	// InstallNode installs and starts one node and waits until it is healthy. On failure the
	// node is left stopped and unregistered.
	InstallNode(ctx context.Context, n Node) error
}

// ClusterFileName is the file the wizard writes with every region it configured.
const ClusterFileName = "oms-cluster.yaml"

// WriteConfigs writes the cluster file and one config-<region>.yaml per region into dir (mode
// 0600: they hold passwords) and returns the cluster file's path.
func WriteConfigs(dir string, cs []config.Config) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write config files: %w", err)
	}
	for _, c := range cs {
		p, err := safepath.File(dir, ".yaml", "config-"+c.CMRegion) // the region is validated; encoded anyway
		if err != nil {
			return "", fmt.Errorf("write config files: %w", err)
		}
		if err := writeFileAtomic(p, config.Format(c), 0o600); err != nil {
			return "", err
		}
	}
	p := filepath.Join(dir, ClusterFileName)
	return p, writeFileAtomic(p, config.FormatCluster(cs), 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// prefixOf guesses the wizard's database-name prefix from an rm database name ("oms_rm" -> "oms").
func prefixOf(rm string) string {
	if p, ok := strings.CutSuffix(rm, "_rm"); ok && p != "" {
		return p
	}
	return ""
}

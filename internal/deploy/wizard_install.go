package deploy

import (
	"context"
	"fmt"
	"os"

	"github.com/omsdev/oms/internal/config"
)

// The wizard's last steps: the admin password, the cluster file, and installing each region and node.

func (w *Wizard) adminPassword() error {
	for {
		a, err := w.p.Secret("Password of the console user admin (at least 8 characters, a letter and a digit)", checkAdminPassword)
		if err != nil {
			return err
		}
		b, err := w.p.Secret("Enter the admin password again", nil)
		if err != nil {
			return err
		}
		if a == b {
			w.admin = config.Secret(a)
			return nil
		}
		w.p.Printf("  invalid: the two passwords differ. Please enter them again.\n")
	}
}

func (w *Wizard) write() error {
	p, err := WriteConfigs(w.opt.OutDir, w.Regions())
	if err != nil {
		return err
	}
	w.p.Printf("Wrote %s (use it with `oms deploy -c %s` next time).\n", p, p)
	return nil
}

// deployRegion runs the region's one-time set-up, then installs its nodes one after another.
func (w *Wizard) deployRegion(ctx context.Context, i int) error {
	c := w.compose(w.regions[i])
	w.p.Printf("\nDeploying region %s (cm_location %d) on %d node(s).\n", c.CMRegion, c.CMLocation, len(c.CMNodes))
	if w.opt.Deployer == nil {
		return fmt.Errorf("deploy region %s: no deployer", c.CMRegion)
	}
	if err := w.opt.Deployer.SetupRegion(ctx, c); err != nil {
		return fmt.Errorf("set up region %s: %w", c.CMRegion, err)
	}
	for _, ip := range c.CMNodes {
		if err := w.deployNode(ctx, i, ip); err != nil {
			return err
		}
	}
	return nil
}

// deployNode asks node ip's questions and installs it. The console TLS answer is kept in the
// region's https_key/https_crt (cluster file rewritten), so later `deploy -c`, `config apply`
// and `add-node` install the same certificate.
func (w *Wizard) deployNode(ctx context.Context, i int, ip string) error {
	for {
		c := w.compose(w.regions[i])
		n := Node{IP: ip, Config: c, Local: ip == w.opt.HostIP, Binary: w.opt.Binary, AdminPassword: w.admin}
		where := "remote, over SSH"
		if n.Local {
			where = "this host"
		}
		w.p.Printf("\nNode %s of region %s (%s)\n", ip, c.CMRegion, where)
		dir, err := w.p.Ask("Installation directory on the node (choose one with a large capacity)", NodeDir(w.opt.InstallDir, ip), checkAbsPath)
		if err != nil {
			return err
		}
		n.InstallDir = dir
		if !n.Local {
			if n.SSH, err = w.askSSH(ip); err != nil {
				return err
			}
		}
		for {
			ver := "unknown version"
			if w.opt.BinaryVersion != nil {
				ver = w.opt.BinaryVersion(n.Binary)
			}
			ok, err := w.p.Confirm(fmt.Sprintf("Install %s from %s?", ver, n.Binary))
			if err != nil {
				return err
			}
			if ok {
				break
			}
			if n.Binary, err = w.p.Ask("Path of the oms binary or package (.tar.gz) to install", "", w.checkBinary); err != nil {
				return err
			}
		}
		tls, err := w.p.Ask("Mount an SSL certificate for the console (https)? (y/n)", map[bool]string{true: "y", false: ""}[c.HTTPSKey != ""], YesNo)
		if err != nil {
			return err
		}
		if tls == "y" {
			if n.TLSKey, err = w.p.Ask("https_key file (private key)", c.HTTPSKey, checkReadableFile); err != nil {
				return err
			}
			if n.TLSCrt, err = w.p.Ask("https_crt file (certificate)", c.HTTPSCrt, checkReadableFile); err != nil {
				return err
			}
		}
		if r := &w.regions[i]; r.HTTPSKey != n.TLSKey || r.HTTPSCrt != n.TLSCrt {
			r.HTTPSKey, r.HTTPSCrt = n.TLSKey, n.TLSCrt
			n.Config = w.compose(*r)
			if err := w.write(); err != nil {
				return err
			}
		}
		err = w.opt.Deployer.InstallNode(ctx, n)
		if err == nil {
			w.p.Printf("Node %s is running.\n", ip)
			return nil
		}
		w.p.Printf("Deployment of node %s failed:\n%v\n", ip, err)
		retry, cerr := w.p.Confirm("Retry this node?")
		if cerr != nil {
			return cerr
		}
		if !retry {
			return fmt.Errorf("deploy node %s: %w", ip, err)
		}
	}
}

func (w *Wizard) askSSH(ip string) (SSHLogin, error) {
	var l SSHLogin
	var err error
	if l.User, err = w.p.Ask("SSH user for "+ip+" (root, or a user with sudo)", w.opt.SSHUser, checkNotEmpty("user")); err != nil {
		return l, err
	}
	pw, err := w.p.Secret("SSH password for "+l.User+"@"+ip+" (empty: log in with a private key)", nil)
	if err != nil {
		return l, err
	}
	l.Password = config.Secret(pw)
	if pw == "" {
		if l.KeyFile, err = w.p.Ask("SSH private key file", w.opt.SSHKeyFile, checkReadableFile); err != nil {
			return l, err
		}
	}
	if l.User != "root" {
		spw, err := w.p.Secret("sudo password of "+l.User+"@"+ip+" (empty: the SSH password, or passwordless sudo)", nil)
		if err != nil {
			return l, err
		}
		l.SudoPassword = config.Secret(spw)
	}
	return l, nil
}

// checkBinary accepts an oms binary, or a package (`make dist`'s .tar.gz) whose bin/oms it
// unpacks into a temporary folder and returns.
func (w *Wizard) checkBinary(s string) (string, error) {
	if _, err := checkReadableFile(s); err != nil {
		return "", err
	}
	if !IsPackage(s) {
		return s, nil
	}
	dir, err := os.MkdirTemp("", "oms-package-")
	if err != nil {
		return "", err
	}
	bin, err := BinaryFromPackage(s, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	w.unpacked = append(w.unpacked, dir)
	w.p.Printf("  unpacked bin/oms of %s\n", s)
	return bin, nil
}

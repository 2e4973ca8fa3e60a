package netns

import (
	"context"
	"strings"
	"testing"
)

// Two regions of one host each: sshd answers in each, hosts reach each other across regions
// through the root namespace, and everything is removed at the end.
func TestHarnessSmoke(t *testing.T) {
	n := New(t)
	n.AddRegion(1)
	n.AddRegion(2)
	a, b := n.AddHost(1, 1), n.AddHost(2, 1)
	n.SetHosts(a, map[string]string{"peer.oms.test": b.IP})
	n.StartSSHD()
	out, err := n.Exec(context.Background(), a, "getent", "ahostsv4", "peer.oms.test")
	if err != nil || !strings.Contains(out, b.IP) {
		t.Fatalf("per-host /etc/hosts: %v %s", err, out)
	}
	out, err = n.Exec(context.Background(), a, "bash", "-c", "exec 3<>/dev/tcp/"+b.IP+"/22 && echo connected")
	if err != nil || !strings.HasPrefix(out, "connected") {
		t.Fatalf("cross-region ssh banner: %v %q", err, out)
	}
}

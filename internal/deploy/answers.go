package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/omsdev/oms/internal/config"
)

// Answer checks of the wizard: each returns the normalised answer or an error whose message is
// shown before the question is asked again. They are pure and table-tested.

func checkHost(s string) (string, error) {
	if !config.ValidHost(s) {
		return "", badHost(s)
	}
	return s, nil
}

// badHost explains why s is not a host: an IPv4-shaped typo or an unreplaced placeholder of the
// guide gets its own message.
func badHost(s string) error {
	if strings.Trim(s, "0123456789.xX") == "" && strings.Count(s, ".") == 3 {
		return fmt.Errorf("%q is not a valid IP address (four numbers 0-255; replace the guide's xxx placeholders with the real address)", s)
	}
	return fmt.Errorf("%q is not an IP address or host name", s)
}

func checkPort(s string) (string, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q is not a port number in 1-65535", s)
	}
	return strconv.Itoa(n), nil
}

func checkNotEmpty(what string) Check {
	return func(s string) (string, error) {
		if strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("the %s must not be empty", what)
		}
		return s, nil
	}
}

func checkPrefix(s string) (string, error) {
	if _, _, _, err := config.DatabaseNames(s, 0, true); err != nil {
		return "", err
	}
	return s, nil
}

// checkRegionID refuses an invalid or already used region ID.
func checkRegionID(used map[string]int) Check {
	return func(s string) (string, error) {
		if !config.ValidRegionID(s) {
			return "", fmt.Errorf("%q is not a valid region ID (letters, digits, '-', '_' or '.', e.g. cn-hangzhou)", s)
		}
		if loc, ok := used[s]; ok {
			return "", fmt.Errorf("region %s already exists (cm_location %d); choose a new region ID", s, loc)
		}
		return s, nil
	}
}

// checkHeartbeatDB accepts a database name no other region uses as its heartbeat database.
func checkHeartbeatDB(used map[string]string) Check {
	return func(s string) (string, error) {
		if !config.ValidDBName(s) {
			return "", fmt.Errorf("%q is not a database name (1-64 letters, digits, _ or $)", s)
		}
		if r, ok := used[s]; ok {
			return "", fmt.Errorf("%s is the heartbeat database of region %s; each region needs its own", s, r)
		}
		return s, nil
	}
}

// checkLocation accepts an integer in [0,127] that no existing region uses.
func checkLocation(used map[int]string) Check {
	return func(s string) (string, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > config.MaxCMLocation {
			return "", fmt.Errorf("%q is not a number in [0,%d]", s, config.MaxCMLocation)
		}
		if r, ok := used[n]; ok {
			return "", fmt.Errorf("cm_location %d is already used by region %s; each region needs its own", n, r)
		}
		return strconv.Itoa(n), nil
	}
}

// splitCMURL reads the cm_url answer: a VIP or domain name, http:// optional, with or without
// ":port". It returns the host and the port (0 when the port must be asked separately).
func splitCMURL(s string) (host string, port int, err error) {
	if strings.HasPrefix(strings.ToLower(s), "https://") {
		return "", 0, fmt.Errorf("the CM service is plain http; drop https:// (or give the address only)")
	}
	h, p, perr := config.CMURLHostPort(s)
	if perr != nil {
		return "", 0, fmt.Errorf("%q is not a VIP or domain name with an optional :port (%v)", s, perr)
	}
	if !config.ValidHost(h) {
		return "", 0, fmt.Errorf("%q is not an IP address or domain name", h)
	}
	return h, p, nil
}

func checkCMURL(s string) (string, error) {
	if _, _, err := splitCMURL(s); err != nil {
		return "", err
	}
	return s, nil
}

// checkNodes reads comma-separated node IPs: each valid, none twice, none in another region.
func checkNodes(otherRegion map[string]string) Check {
	return func(s string) (string, error) {
		var out []string
		seen := map[string]bool{}
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !config.ValidHost(f) {
				return "", badHost(f)
			}
			if seen[f] {
				return "", fmt.Errorf("%s is listed twice", f)
			}
			if r, ok := otherRegion[f]; ok {
				return "", fmt.Errorf("%s is a node of region %s; a host belongs to one region only", f, r)
			}
			seen[f] = true
			out = append(out, f)
		}
		if len(out) == 0 {
			return "", fmt.Errorf("give at least one node IP (several separated by commas)")
		}
		return strings.Join(out, ","), nil
	}
}

func checkTSDBType(s string) (string, error) {
	if strings.EqualFold(s, "INFLUXDB") {
		return "INFLUXDB", nil
	}
	return "", fmt.Errorf("%q is not supported: only INFLUXDB is", s)
}

func checkHostPort(s string) (string, error) {
	h, p, err := config.CMURLHostPort(s)
	if err != nil || !config.ValidHost(h) || p == 0 {
		return "", fmt.Errorf("%q is not host:port (e.g. 10.0.0.9:8086; http:// optional)", s)
	}
	return net.JoinHostPort(h, strconv.Itoa(p)), nil
}

func checkSink(s string) (string, error) {
	switch strings.ToLower(s) {
	case config.AuditSinkFile, config.AuditSinkHTTP:
		return strings.ToLower(s), nil
	}
	return "", fmt.Errorf("%q is not a sink: answer file or http", s)
}

func checkAbsPath(s string) (string, error) {
	if !filepath.IsAbs(s) {
		return "", fmt.Errorf("%q is not an absolute path", s)
	}
	return filepath.Clean(s), nil
}

func checkHTTPURL(s string) (string, error) {
	if msg := config.CheckHTTPURL(s); msg != "" {
		return "", fmt.Errorf("%s", msg)
	}
	return s, nil
}

// checkReadableFile accepts a path of a regular file that this host can read.
func checkReadableFile(s string) (string, error) {
	st, err := os.Stat(s)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", s, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a directory, not a file", s)
	}
	return s, nil
}

// checkAdminPassword: the console admin password, at least 8 characters with a letter and a digit.
func checkAdminPassword(s string) (string, error) {
	if len(s) < 8 {
		return "", fmt.Errorf("the password must have at least 8 characters")
	}
	if !strings.ContainsAny(s, "0123456789") || strings.IndexFunc(s, func(r rune) bool { return (r|0x20) >= 'a' && (r|0x20) <= 'z' }) < 0 {
		return "", fmt.Errorf("the password must contain a letter and a digit")
	}
	return s, nil
}

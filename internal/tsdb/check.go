package tsdb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/omserr"
)

// BaseURL is tsdb_url as an HTTP base URL: the guide writes it as host:port, http:// optional.
func BaseURL(addr string) string {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return strings.TrimRight(base, "/")
}

// Check asks the InfluxDB at addr (host:port, http:// optional) to list its databases with the
// given credentials: it must answer, and accept them. The deployment wizard and checks use it.
func Check(ctx context.Context, addr, user string, password config.Secret) error {
	base := BaseURL(addr)
	q := url.Values{"q": {"SHOW DATABASES"}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/query?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("check time-series database %s: %w", addr, err)
	}
	req.SetBasicAuth(user, password.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return omserr.Wrap(err, omserr.DeployTSDBUnreachable, fmt.Sprintf("the time-series database at %s does not answer", addr),
			"check tsdb_url and that InfluxDB listens there and accepts connections from this host")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return omserr.New(omserr.DeployTSDBAuth, fmt.Sprintf("InfluxDB at %s refuses user %q: %s", addr, user, strings.TrimSpace(string(body))),
			"check tsdb_username and tsdb_password (create the user in InfluxDB first)")
	case resp.StatusCode != http.StatusOK:
		return omserr.New(omserr.DeployTSDBError, fmt.Sprintf("InfluxDB at %s answered %s: %s", addr, resp.Status, strings.TrimSpace(string(body))),
			"check that tsdb_url points at InfluxDB 1.x's HTTP API (port 8086)")
	}
	var r struct {
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return omserr.New(omserr.DeployTSDBError, fmt.Sprintf("%s does not answer like InfluxDB: %.200s", addr, body), "check tsdb_url")
	}
	if r.Error != "" || (len(r.Results) > 0 && r.Results[0].Error != "") {
		return omserr.New(omserr.DeployTSDBError, fmt.Sprintf("InfluxDB at %s: %s%s", addr, r.Error, firstErr(r.Results)), "check the user's privileges")
	}
	return nil
}

func firstErr(rs []struct {
	Error string `json:"error"`
}) string {
	if len(rs) > 0 {
		return rs[0].Error
	}
	return ""
}

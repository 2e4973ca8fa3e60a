package project

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/omsdev/oms/api"
)

// IsDuplicate reports a duplicate-key error of the MetaDB.
func IsDuplicate(err error) bool { return isDuplicate(err) }

// UpdateDataSource edits a data source; empty fields keep their value and an empty password keeps
// the stored one (the console never receives passwords back, so it cannot resend them).
func (s *Service) UpdateDataSource(ctx context.Context, r api.UpdateMysqlDataSourceRequest) (api.DataSource, error) {
	e, err := s.endpoint(ctx, r.ID)
	if err != nil {
		return api.DataSource{}, err
	}
	if r.Port < 0 || r.Port > 65535 {
		return api.DataSource{}, invalid(fmt.Sprintf("port %d is out of range", r.Port), "set port to 1-65535")
	}
	sets, args := []string{}, []any{}
	set := func(col string, v any) { sets, args = append(sets, col+" = ?"), append(args, v) }
	if h := strings.TrimSpace(r.Host); h != "" {
		set("host", h)
	}
	if r.Port != 0 {
		set("port", r.Port)
	}
	if r.UserName != "" {
		set("username", r.UserName)
	}
	if r.Password != "" {
		set("password_enc", s.keys.Seal(r.Password))
	}
	if r.Region != "" {
		set("region", r.Region)
	}
	if r.Description != nil {
		set("description", *r.Description)
	}
	if r.TLSMode != "" || r.TLSCA != nil {
		mode, ca := string(e.TLS.Mode), e.TLS.CA
		if r.TLSMode != "" {
			mode = r.TLSMode
		}
		if r.TLSCA != nil {
			ca = *r.TLSCA
		}
		t, err := dataSourceTLS(mode, ca)
		if err != nil {
			return api.DataSource{}, err
		}
		set("tls_mode", string(t.Mode))
		set("tls_ca", t.CA)
	}
	if len(sets) > 0 {
		args = append(args, e.ID)
		if _, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".data_sources SET "+strings.Join(sets, ", ")+" WHERE id = ?", args...); err != nil {
			return api.DataSource{}, fmt.Errorf("update data source %s: %w", e.ID, err)
		}
	}
	return s.dataSource(ctx, e.ID)
}

func (s *Service) dataSource(ctx context.Context, id string) (api.DataSource, error) {
	d, err := scanDataSource(s.db.QueryRowContext(ctx, "SELECT "+dataSourceCols+" FROM "+s.rm+".data_sources WHERE id = ?", id))
	if err != nil {
		return d, fmt.Errorf("read data source %s: %w", id, err)
	}
	return d, nil
}

// TestDataSource connects to a stored data source, or to the given endpoint (with an id and no
// password: the stored password). A refused connection is a result with ok=false, not an error.
func (s *Service) TestDataSource(ctx context.Context, r api.TestDataSourceRequest) (api.TestDataSourceResult, error) {
	var e Endpoint
	if r.ID != "" {
		var err error
		if e, err = s.endpoint(ctx, r.ID); err != nil {
			return api.TestDataSourceResult{}, err
		}
	}
	if r.Host != "" {
		e.Host = r.Host
	}
	if r.Port != 0 {
		e.Port = r.Port
	}
	if r.UserName != "" {
		e.User = r.UserName
	}
	if r.Password != "" {
		e.Password = r.Password
	}
	if r.TLSMode != "" {
		t, err := dataSourceTLS(r.TLSMode, r.TLSCA)
		if err != nil {
			return api.TestDataSourceResult{}, err
		}
		e.TLS = t
	}
	switch {
	case e.Host == "":
		return api.TestDataSourceResult{}, invalid("host is required", "set host to the database's address")
	case e.Port <= 0 || e.Port > 65535:
		return api.TestDataSourceResult{}, invalid(fmt.Sprintf("port %d is out of range", e.Port), "set port to 1-65535")
	case e.User == "":
		return api.TestDataSourceResult{}, invalid("userName is required", "set the database user oms connects as")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	db, err := openEndpoint(ctx, e)
	if err != nil {
		return api.TestDataSourceResult{OK: false, Message: connMsg(e, err), LatencyMS: time.Since(start).Milliseconds()}, nil
	}
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return api.TestDataSourceResult{OK: false, Message: connMsg(e, err), LatencyMS: time.Since(start).Milliseconds()}, nil
	}
	return api.TestDataSourceResult{OK: true, Version: version, Message: "connected to " + e.Addr() + " as " + e.User,
		LatencyMS: time.Since(start).Milliseconds()}, nil
}

// dataSourceCols are the columns scanDataSource reads (never the password).
const dataSourceCols = "id, name, type, host, port, username, tls_mode, COALESCE(tls_ca, ''), region, description, created_at"

func scanDataSource(sc interface{ Scan(...any) error }) (api.DataSource, error) {
	var d api.DataSource
	err := sc.Scan(&d.ID, &d.Name, &d.Type, &d.Host, &d.Port, &d.UserName, &d.TLSMode, &d.TLSCA, &d.Region, &d.Description, &d.CreatedAt)
	return d, err
}

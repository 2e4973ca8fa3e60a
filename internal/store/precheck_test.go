package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

func TestPrechecks(t *testing.T) {
	noBinlog := testenv.StartMariaDB(t, testenv.Options{NoBinlog: true})
	// Its own instance: the test changes global binlog settings and purges binary logs, and a
	// shared instance may still have another test's binlog dump thread holding an old log open
	// (PURGE then skips the file in use and the purged-start check sees nothing purged).
	inst := testenv.StartMariaDB(t)
	// The checks' deadline starts once the servers are up (starting two took most of a 60 s
	// deadline on a loaded machine, and the purged-start check then ran out of time: CI flake).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const sid = 4242

	if err := precheckSource(ctx, noBinlog.DB(), sid, false); omserr.CodeOf(err) != omserr.StoreBinlogOff {
		t.Errorf("no binlog: %v", err)
	}
	if err := precheckSource(ctx, inst.DB(), sid, false); err != nil {
		t.Fatalf("good source: %v", err)
	}
	setGlobal := func(name, val, restore string) {
		t.Helper()
		if _, err := inst.DB().ExecContext(ctx, "SET GLOBAL "+name+" = '"+val+"'"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = inst.DB().Exec("SET GLOBAL " + name + " = '" + restore + "'") })
	}
	setGlobal("binlog_format", "STATEMENT", "ROW")
	if err := precheckSource(ctx, inst.DB(), sid, false); omserr.CodeOf(err) != omserr.StoreBinlogFormat {
		t.Errorf("statement format: %v", err)
	}
	_, _ = inst.DB().Exec("SET GLOBAL binlog_format = 'ROW'")
	setGlobal("binlog_row_image", "MINIMAL", "FULL")
	if err := precheckSource(ctx, inst.DB(), sid, false); omserr.CodeOf(err) != omserr.StoreRowImage {
		t.Errorf("minimal row image: %v", err)
	}
	_, _ = inst.DB().Exec("SET GLOBAL binlog_row_image = 'FULL'")
	// MariaDB's default NO_LOG: the Store would crash-loop later (STORE_SCHEMA_UNKNOWN).
	for _, v := range []string{"NO_LOG", "MINIMAL"} {
		setGlobal("binlog_row_metadata", v, "FULL")
		err := precheckSource(ctx, inst.DB(), sid, false)
		if omserr.CodeOf(err) != omserr.StoreRowMetadata {
			t.Errorf("binlog_row_metadata %s: %v", v, err)
		} else if e := new(omserr.Error); !errors.As(err, &e) || !strings.Contains(e.Advice, "SET GLOBAL binlog_row_metadata=FULL") || !strings.Contains(e.Advice, "my.cnf") {
			t.Errorf("binlog_row_metadata %s: advice %q names no fix", v, e.Advice)
		}
	}
	_, _ = inst.DB().Exec("SET GLOBAL binlog_row_metadata = 'FULL'")

	if err := precheckSource(ctx, inst.DB(), inst.ServerID, false); omserr.CodeOf(err) != omserr.StoreServerIDClash {
		t.Errorf("own server id: %v", err)
	}

	// A user with SELECT only.
	if _, err := inst.DB().ExecContext(ctx, "CREATE USER IF NOT EXISTS 'weak'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO 'weak'@'127.0.0.1'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = inst.DB().Exec("DROP USER IF EXISTS 'weak'@'127.0.0.1'") })
	mc := mysql.NewConfig()
	mc.Net, mc.Addr, mc.User, mc.Passwd = "tcp", inst.Addr(), "weak", "pw"
	conn, _ := mysql.NewConnector(mc)
	weak := sql.OpenDB(conn)
	defer weak.Close()
	err := precheckSource(ctx, weak, sid, false)
	if omserr.CodeOf(err) != omserr.StorePrivilege {
		t.Errorf("weak user: %v", err)
	}
	// The password never shows in what the store logs or reports about its config.
	cfg := Config{Source: SourceConfig{Config: mysqlconn.Config{Host: "h", Port: 1, User: "u", Password: "s3cret"}}}
	if s := cfg.Source.String(); strings.Contains(s, "s3cret") {
		t.Errorf("password in %q", s)
	}

	// Requested position purged on the source.
	old := gtidNow(t, inst)
	if _, err := inst.DB().ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS purge_me; DROP DATABASE purge_me; FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	var last string
	rows, err := inst.DB().QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var size any
		cols, _ := rows.Columns()
		dest := []any{&name, &size}
		for len(dest) < len(cols) {
			dest = append(dest, new(any))
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		last = name
	}
	rows.Close()
	if _, err := inst.DB().ExecContext(ctx, "PURGE BINARY LOGS TO '"+last+"'"); err != nil {
		t.Fatal(err)
	}
	err = precheckStartGTID(ctx, inst.DB(), "mariadb", binlog.MustParseGTIDSet("mariadb", old))
	if omserr.CodeOf(err) != omserr.StoreSourcePurged {
		t.Errorf("purged start: %v", err)
	}
	// The whole component reports it as a failed Init with the code in its status.
	st, err := NewWithConfig(component.Spec{Kind: Kind, WorkDir: t.TempDir()}, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: old}, Listen: "127.0.0.1:0"}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Init(ctx); omserr.CodeOf(err) != omserr.StoreSourcePurged || st.Status().Error == nil || st.Status().Error.Code != omserr.StoreSourcePurged {
		t.Errorf("init from purged position: %v, status %+v", err, st.Status().Error)
	}
	_ = st.Close()
}

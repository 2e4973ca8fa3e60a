package project

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/store"
)

// CheckItem is one precheck result.
type CheckItem struct {
	Name string // CONNECTIVITY, TLS, PRIVILEGES, BINLOG, PRIMARY_KEY, COLUMNS, CHARSET, SERVER_ID, LOWER_CASE_TABLE_NAMES, TARGET_EMPTY
	Side string // source or target
	OK   bool
	// Warning: OK, but the operator should know (Message says what); never fails the precheck.
	Warning bool
	Message string
	Advice  string
}

func (c CheckItem) String() string {
	s := fmt.Sprintf("%s (%s): %s", c.Name, c.Side, c.Message)
	if c.Warning {
		s = "warning: " + s
	}
	if c.Advice != "" {
		s += "; " + c.Advice
	}
	return s
}

// CheckResult is every item of a precheck.
type CheckResult []CheckItem

// add appends one item; the advice of a passed item is dropped.
func (r *CheckResult) add(name, side string, ok bool, msg, advice string) {
	if ok {
		advice = ""
	}
	*r = append(*r, CheckItem{Name: name, Side: side, OK: ok, Message: msg, Advice: advice})
}

// Failed returns the failed items.
func (r CheckResult) Failed() []CheckItem {
	var out []CheckItem
	for _, c := range r {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Summary is one line for the step message.
func (r CheckResult) Summary() string {
	names := make([]string, 0, len(r))
	var warnings []string
	for _, c := range r {
		name := c.Name + "(" + c.Side + ")"
		if c.Name == "TLS" && !c.Warning {
			name = "TLS(" + c.Side + ", encrypted)"
		}
		names = append(names, name)
		if c.Warning {
			warnings = append(warnings, c.String())
		}
	}
	s := fmt.Sprintf("%d checks passed: %s", len(r), strings.Join(names, ", "))
	if len(warnings) > 0 {
		s += "; " + strings.Join(warnings, "; ")
	}
	return s
}

// openEndpoint opens and pings a small pool to e.
func openEndpoint(ctx context.Context, e Endpoint) (*sql.DB, error) {
	return e.Conn().Open(ctx, mysqlconn.Options{ConnectTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, MaxOpen: 2})
}

// SelectedTable is a source table the project copies and where it goes.
type SelectedTable struct {
	DB, Table, TargetDB, TargetTable string
	Columns                          []string // the rule's column subset; nil: all
}

// ListSelected lists the source's base tables the selection matches.
func ListSelected(ctx context.Context, db *sql.DB, cfg selection.Config) ([]SelectedTable, error) {
	sel, err := selection.Compile(cfg)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'
		AND TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys','__oms') ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list source tables: %w", err)
	}
	defer rows.Close()
	var out []SelectedTable
	for rows.Next() {
		var d, t string
		if err := rows.Scan(&d, &t); err != nil {
			return nil, err
		}
		if tg, ok := sel.Match(d, t); ok {
			out = append(out, SelectedTable{DB: d, Table: t, TargetDB: tg.DB, TargetTable: tg.Table, Columns: tg.Columns})
		}
	}
	return out, rows.Err()
}

var supportedCharsets = map[string]bool{"utf8mb4": true, "utf8": true, "utf8mb3": true, "latin1": true, "ascii": true, "binary": true, "gbk": true, "gb18030": true, "big5": true}

// Precheck runs every check against the source and the target and returns all results (it does
// not stop at the first failure, so one run lists everything to fix).
func Precheck(ctx context.Context, src, dst Endpoint, sel selection.Config, spec projectSpec) CheckResult {
	var res CheckResult
	add := res.add
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	sdb, serr := openEndpoint(ctx, src)
	if serr == nil {
		defer sdb.Close()
	}
	add("CONNECTIVITY", "source", serr == nil, connMsg(src, serr), "check the data source's host, port, user and password and that this node reaches it")
	tdb, terr := openEndpoint(ctx, dst)
	if terr == nil {
		defer tdb.Close()
	}
	add("CONNECTIVITY", "target", terr == nil, connMsg(dst, terr), "check the data source's host, port, user and password and that this node reaches it")
	if serr != nil || terr != nil {
		return res
	}
	res = append(res, tlsItem(ctx, sdb, src, "source"), tlsItem(ctx, tdb, dst, "target"))
	vars := func(db *sql.DB, names ...string) map[string]string {
		out := map[string]string{}
		for _, n := range names {
			var v sql.NullString
			_ = db.QueryRowContext(ctx, "SELECT @@GLOBAL."+n).Scan(&v)
			out[n] = v.String
		}
		return out
	}
	res = append(res, twoWayChecks(ctx, sdb, tdb, src, dst, spec)...)
	sv := vars(sdb, "log_bin", "server_id", "lower_case_table_names")
	tv := vars(tdb, "lower_case_table_names")

	// Privileges.
	sg := grants(ctx, sdb)
	need := []string{"SELECT", "REPLICATION SLAVE", "REPLICATION CLIENT"}
	if spec.EnableIncr {
		missing := missingPrivs(sg, need)
		add("PRIVILEGES", "source", len(missing) == 0, privMsg(src, missing), "GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the source user")
	} else {
		missing := missingPrivs(sg, need[:1])
		add("PRIVILEGES", "source", len(missing) == 0, privMsg(src, missing), "GRANT SELECT ON the selected databases TO the source user")
	}
	tneed := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX", "DROP"}
	missing := missingPrivs(grants(ctx, tdb), tneed)
	add("PRIVILEGES", "target", len(missing) == 0, privMsg(dst, missing), "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON *.* TO the target user")

	if spec.EnableIncr {
		add("BINLOG", "source", isOn(sv["log_bin"]), "log_bin="+sv["log_bin"], "put log_bin=ON in the [mysqld] section of the source's my.cnf and restart it")
		bad, err := store.CheckBinlogSettings(ctx, sdb)
		if err != nil {
			add("BINLOG", "source", false, "cannot read the source's binlog settings: "+err.Error(), "grant the source user SELECT and check it reaches the source")
		}
		for _, e := range bad {
			add("BINLOG", "source", false, e.Message, e.Advice)
		}
		if err == nil && len(bad) == 0 {
			add("BINLOG", "source", true, "binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL", "")
		}
		add("SERVER_ID", "source", sv["server_id"] != "" && sv["server_id"] != "0", "server_id="+sv["server_id"], "set a non-zero server_id on the source")
	}
	add("LOWER_CASE_TABLE_NAMES", "target", sv["lower_case_table_names"] == tv["lower_case_table_names"],
		fmt.Sprintf("source lower_case_table_names=%s, target %s", sv["lower_case_table_names"], tv["lower_case_table_names"]),
		"use the same lower_case_table_names on both servers")

	tables, err := ListSelected(ctx, sdb, sel)
	if err != nil {
		add("PRIMARY_KEY", "source", false, "cannot list the selected tables: "+err.Error(), "check the selection and the source user's privileges")
		return res
	}
	if len(tables) == 0 {
		if spec.EnableIncr && hasWildcard(sel) {
			// Incr-Sync picks up tables created later that the patterns match.
			res = append(res, CheckItem{Name: "SELECTION", Side: "source", OK: true, Warning: true,
				Message: "the selection matches no table of the source yet; tables created later that its patterns match are replicated"})
			return res
		}
		add("SELECTION", "source", false, "the selection matches no table of the source", "check transferMapping (database and table patterns)")
		return res
	}
	var noKey, badCharset, notEmpty, badColumns []string
	for _, t := range tables {
		if len(t.Columns) > 0 {
			badColumns = append(badColumns, columnSubsetProblems(ctx, sdb, t)...)
		}
		var keys int
		_ = sdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_TYPE IN ('PRIMARY KEY','UNIQUE')`, t.DB, t.Table).Scan(&keys)
		if keys == 0 {
			noKey = append(noKey, t.DB+"."+t.Table)
		}
		rows, err := sdb.QueryContext(ctx, `SELECT DISTINCT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CHARACTER_SET_NAME IS NOT NULL`, t.DB, t.Table)
		if err == nil {
			for rows.Next() {
				var cs string
				if rows.Scan(&cs) == nil && !supportedCharsets[strings.ToLower(cs)] {
					badCharset = append(badCharset, fmt.Sprintf("%s.%s (%s)", t.DB, t.Table, cs))
				}
			}
			rows.Close()
		}
		var one int
		err = tdb.QueryRowContext(ctx, "SELECT 1 FROM "+sqlgen.QuoteIdent(t.TargetDB)+"."+sqlgen.QuoteIdent(t.TargetTable)+" LIMIT 1").Scan(&one)
		if err == nil {
			notEmpty = append(notEmpty, t.TargetDB+"."+t.TargetTable)
		}
	}
	add("PRIMARY_KEY", "source", len(noKey) == 0, keyMsg(len(tables), noKey), "add a primary key or a NOT NULL unique key to each listed table, or exclude it from the project")
	if len(badColumns) > 0 {
		add("COLUMNS", "source", false, strings.Join(badColumns, "; "), "fix the columns list of the rule: name existing columns, with every primary key column")
	}
	add("CHARSET", "source", len(badCharset) == 0, listMsg("all selected tables use supported character sets", "unsupported character sets: ", badCharset),
		"convert the listed tables to utf8mb4 or exclude them")
	if spec.EnableFull {
		add("TARGET_EMPTY", "target", len(notEmpty) == 0, listMsg("the target tables are absent or empty", "target tables already hold rows: ", notEmpty),
			"empty or drop the listed target tables, or map them to other names")
	}
	return res
}

// hasWildcard says whether a rule of sel names databases or tables by pattern (so tables created
// later can match it).
func hasWildcard(sel selection.Config) bool {
	for _, r := range sel.Tables {
		if selection.IsPattern(r.DB) || r.Table == "" || selection.IsPattern(r.Table) {
			return true
		}
	}
	return false
}

func connMsg(e Endpoint, err error) string {
	if err == nil {
		return "connected to " + e.Addr() + " as " + e.User
	}
	return "cannot " + err.Error() // mysqlconn's error reads "connect to user@host:port: cause"
}

// tlsItem says whether the connection to e is encrypted, as the server sees it. A plain
// connection is a warning (the mode allowed it), not a failure.
func tlsItem(ctx context.Context, db *sql.DB, e Endpoint, side string) CheckItem {
	mode, _ := mysqlconn.ParseTLSMode(string(e.TLS.Mode))
	cipher, err := mysqlconn.Cipher(ctx, db)
	switch {
	case err != nil:
		return CheckItem{Name: "TLS", Side: side, OK: true, Warning: true, Message: fmt.Sprintf("cannot tell whether the connection to %s is encrypted: %v", e.Addr(), err)}
	case cipher == "":
		return CheckItem{Name: "TLS", Side: side, OK: true, Warning: true,
			Message: fmt.Sprintf("the connection to %s is NOT encrypted (tlsMode %s)", e.Addr(), mode),
			Advice:  "enable TLS on the server (ssl_cert, ssl_key), then set the data source's tlsMode to verify-identity with its CA"}
	}
	return CheckItem{Name: "TLS", Side: side, OK: true, Message: fmt.Sprintf("the connection to %s is encrypted (tlsMode %s, cipher %s)", e.Addr(), mode, cipher)}
}

func privMsg(e Endpoint, missing []string) string {
	if len(missing) == 0 {
		return e.User + " has the privileges needed"
	}
	return e.User + " lacks " + strings.Join(missing, ", ")
}

func keyMsg(n int, noKey []string) string {
	if len(noKey) == 0 {
		return fmt.Sprintf("all %d selected tables have a primary or unique key", n)
	}
	return "tables without a primary or unique key: " + strings.Join(noKey, ", ")
}

func listMsg(ok, prefix string, items []string) string {
	if len(items) == 0 {
		return ok
	}
	return prefix + strings.Join(items, ", ")
}

func isOn(v string) bool { return v == "1" || strings.EqualFold(v, "ON") }

func grants(ctx context.Context, db *sql.DB) []string {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if rows.Scan(&g) == nil {
			out = append(out, strings.ToUpper(g))
		}
	}
	return out
}

// missingPrivs returns the privileges of need that no global (ON *.*) grant gives. Database-
// level grants count for SELECT and the DML/DDL privileges.
func missingPrivs(grants, need []string) []string {
	var missing []string
	for _, p := range need {
		found := false
		for _, g := range grants {
			if !strings.HasPrefix(g, "GRANT ") {
				continue
			}
			on := strings.Index(g, " ON ")
			if on < 0 {
				continue
			}
			privs := g[len("GRANT "):on]
			global := strings.HasPrefix(g[on:], " ON *.*")
			if strings.Contains(privs, "ALL PRIVILEGES") && (global || !strings.HasPrefix(p, "REPLICATION")) {
				found = true
			}
			for _, x := range strings.Split(privs, ",") {
				if strings.TrimSpace(x) == p && (global || !strings.HasPrefix(p, "REPLICATION")) {
					found = true
				}
			}
		}
		if !found {
			missing = append(missing, p)
		}
	}
	return missing
}

// sourceGTID reads the source's current binlog GTID position (MariaDB gtid_binlog_pos, MySQL
// gtid_executed) and its flavor ("mariadb" or "mysql").
func sourceGTID(ctx context.Context, e Endpoint) (pos, flavor string, err error) {
	db, err := openEndpoint(ctx, e)
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "", "", fmt.Errorf("read source version: %w", err)
	}
	q, flavor := "SELECT @@GLOBAL.gtid_executed", "mysql"
	if strings.Contains(strings.ToLower(version), "mariadb") {
		q, flavor = "SELECT @@GLOBAL.gtid_binlog_pos", "mariadb"
	}
	if err := db.QueryRowContext(ctx, q).Scan(&pos); err != nil {
		return "", "", fmt.Errorf("read source GTID position: %w", err)
	}
	return strings.ReplaceAll(pos, "\n", ""), flavor, nil
}

// columnSubsetProblems checks a table's column subset against the source: every column exists
// (names compared exactly, as the copy and Incr-Sync do) and the primary key is in it (rows are
// identified by it on the target).
func columnSubsetProblems(ctx context.Context, db *sql.DB, t SelectedTable) []string {
	name := t.DB + "." + t.Table
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_KEY = 'PRI' FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, t.DB, t.Table)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the columns of %s: %v", name, err)}
	}
	defer rows.Close()
	have, pk := map[string]bool{}, []string{}
	for rows.Next() {
		var c string
		var isPK bool
		if err := rows.Scan(&c, &isPK); err != nil {
			return []string{fmt.Sprintf("cannot read the columns of %s: %v", name, err)}
		}
		have[c] = true
		if isPK {
			pk = append(pk, c)
		}
	}
	var out []string
	for _, c := range t.Columns {
		if !have[c] {
			out = append(out, fmt.Sprintf("%s has no column %q", name, c))
		}
	}
	for _, c := range pk {
		if !slices.Contains(t.Columns, c) {
			out = append(out, fmt.Sprintf("the column subset of %s leaves out primary key column %q", name, c))
		}
	}
	return out
}

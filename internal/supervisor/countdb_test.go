package supervisor

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/testenv"
)

// stmtCounter counts the statements a *sql.DB sends, by their first word and by text.
type stmtCounter struct {
	mu     sync.Mutex
	byVerb map[string]int
	byText map[string]int
}

func (c *stmtCounter) add(q string) {
	q = strings.Join(strings.Fields(q), " ")
	verb, _, _ := strings.Cut(q, " ")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byVerb[strings.ToUpper(verb)]++
	c.byText[q]++
}

// take returns the counts so far and starts over.
func (c *stmtCounter) take() (byVerb, byText map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byVerb, byText = c.byVerb, c.byText
	c.byVerb, c.byText = map[string]int{}, map[string]int{}
	return byVerb, byText
}

// countingDB opens the instance like a node opens its MetaDB (parsed times) through a driver
// wrapper that counts every statement: each ExecContext and QueryContext is one, whether the
// driver then interpolates or prepares it.
func countingDB(t *testing.T, inst *testenv.Instance) (*sql.DB, *stmtCounter) {
	t.Helper()
	cfg, err := mysql.ParseDSN(inst.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ParseTime = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &stmtCounter{byVerb: map[string]int{}, byText: map[string]int{}}
	db := sql.OpenDB(countingConnector{conn, n})
	t.Cleanup(func() { db.Close() })
	return db, n
}

type countingConnector struct {
	driver.Connector
	n *stmtCounter
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{conn, c.n}, nil
}

type countingConn struct {
	driver.Conn
	n *stmtCounter
}

func (c countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.n.add(q)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.add(q)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c countingConn) CheckNamedValue(v *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(v)
}

package conformance

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The corpus: test/conformance/corpus/<NN>-<category>.sql, run in name order, each file in one
// session (temporary tables and session variables stay in it). In a file:
//
//	@P@                      the subtest's database prefix (s_ straight, k_ with kills)
//	@DATA@                   the absolute path of corpus/data (LOAD DATA LOCAL INFILE)
//	DELIMITER //             statements end with // until DELIMITER ; (routines, triggers)
//	-- @background <stmt>    <stmt> runs over and over on another connection until
//	-- @end-background       (DDL under concurrent DML)
//	-- comment               ignored
//
// A statement ends at a line ending with the delimiter.

const corpusDir = "corpus"

type statement struct {
	file string
	line int
	sql  string
	// background: start (sql) or stop ("") the concurrent statement.
	background, endBackground bool
}

func loadCorpus(t *testing.T, prefix string) (files []string, stmts map[string][]statement) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.sql"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus in %s: %v", corpusDir, err)
	}
	sort.Strings(paths)
	data, _ := filepath.Abs(filepath.Join(corpusDir, "data"))
	stmts = map[string][]statement{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		files = append(files, name)
		delim, buf, start := ";", []string(nil), 0
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.NewReplacer("@P@", prefix, "@DATA@", data).Replace(sc.Text())
			trim := strings.TrimSpace(line)
			switch {
			case len(buf) == 0 && strings.HasPrefix(trim, "-- @background "):
				stmts[name] = append(stmts[name], statement{file: name, line: n, sql: strings.TrimPrefix(trim, "-- @background "), background: true})
				continue
			case len(buf) == 0 && trim == "-- @end-background":
				stmts[name] = append(stmts[name], statement{file: name, line: n, endBackground: true})
				continue
			case len(buf) == 0 && (trim == "" || strings.HasPrefix(trim, "--")):
				continue
			case len(buf) == 0 && strings.HasPrefix(strings.ToUpper(trim), "DELIMITER "):
				delim = strings.TrimSpace(trim[len("DELIMITER "):])
				continue
			}
			if len(buf) == 0 {
				start = n
			}
			buf = append(buf, line)
			if strings.HasSuffix(trim, delim) {
				s := strings.TrimSpace(strings.Join(buf, "\n"))
				stmts[name] = append(stmts[name], statement{file: name, line: start, sql: strings.TrimSuffix(s, delim)})
				buf = nil
			}
		}
		f.Close()
		if len(buf) > 0 {
			t.Fatalf("%s: statement from line %d has no %s at its end", name, start, delim)
		}
	}
	return files, stmts
}

// registerDataFiles allows LOAD DATA LOCAL INFILE of the files in corpus/data.
func registerDataFiles(t *testing.T) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "data", "*"))
	for _, p := range paths {
		abs, _ := filepath.Abs(p)
		mysql.RegisterLocalFile(abs)
	}
}

// runFile runs one corpus file on the source in one session; a statement the source refuses is
// a defect of the corpus (returned).
func runFile(ctx context.Context, db *sql.DB, stmts []statement) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	bg := &background{db: db}
	defer bg.stop()
	for _, s := range stmts {
		switch {
		case s.background:
			bg.stop()
			bg.start(ctx, s)
		case s.endBackground:
			bg.stop()
		default:
			if _, err := conn.ExecContext(ctx, s.sql); err != nil {
				return fmt.Errorf("%s:%d: %w\n%s", s.file, s.line, err, s.sql)
			}
		}
	}
	return bg.stop()
}

// background runs one statement over and over on its own connection (DML under DDL).
type background struct {
	db     *sql.DB
	wg     sync.WaitGroup
	cancel context.CancelFunc
	err    error
}

func (b *background) start(ctx context.Context, s statement) {
	bctx, cancel := context.WithCancel(ctx)
	b.cancel = cancel
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for bctx.Err() == nil {
			if _, err := b.db.ExecContext(bctx, s.sql); err != nil && bctx.Err() == nil && !transient(err) {
				b.err = fmt.Errorf("%s:%d background: %w\n%s", s.file, s.line, err, s.sql)
				return
			}
			time.Sleep(5 * time.Millisecond) // a steady trickle of DML, not a flood
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the DML start before the DDL that follows
}

// stop ends the statement and returns its error, if any.
func (b *background) stop() error {
	if b.cancel != nil {
		b.cancel()
		b.wg.Wait()
		b.cancel = nil
	}
	return b.err
}

// transient errors of the background DML while DDL changes its table (metadata lock waits,
// deadlocks, the table being rebuilt) are expected; the DML simply runs again.
func transient(err error) bool {
	var me *mysql.MySQLError
	if e, ok := err.(*mysql.MySQLError); ok {
		me = e
	}
	return me != nil && (me.Number == 1205 || me.Number == 1213 || me.Number == 1412 || me.Number == 1146)
}

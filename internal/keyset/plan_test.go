package keyset_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/keyset"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestPlanCoversEveryRowOnce: for integer (dense and sparse), string and composite keys, the
// planned ranges hold every row exactly once, in about rows/per ranges.
func TestPlanCoversEveryRowOnce(t *testing.T) {
	inst := testenv.Shared(t, "db")
	db := inst.DB()
	name := testenv.FreshDatabase(t, inst, "keyset")
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tb := func(n string) string { return sqlgen.Table(name, n) }
	exec("CREATE TABLE " + tb("dense") + " (id BIGINT UNSIGNED PRIMARY KEY)")
	exec("CREATE TABLE " + tb("sparse") + " (id INT PRIMARY KEY)")
	exec("CREATE TABLE " + tb("str") + " (k VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY)")
	exec("CREATE TABLE " + tb("comp") + " (a INT NOT NULL, b VARBINARY(10) NOT NULL, PRIMARY KEY (a, b))")
	exec("CREATE TABLE " + tb("empty") + " (id INT PRIMARY KEY)")
	var dense, sparse, str, comp []string
	for i := 0; i < 1000; i++ {
		dense = append(dense, fmt.Sprintf("(%d)", i+1))
		sparse = append(sparse, fmt.Sprintf("(%d)", i*100_003-50_000_000))
		str = append(str, fmt.Sprintf("('k%04d%s')", i, strings.Repeat("é", i%3)))
		comp = append(comp, fmt.Sprintf("(%d, 0x%02x)", i%7, i))
	}
	exec("INSERT INTO " + tb("dense") + " VALUES " + strings.Join(dense, ","))
	exec("INSERT INTO " + tb("sparse") + " VALUES " + strings.Join(sparse, ","))
	exec("INSERT INTO " + tb("str") + " VALUES " + strings.Join(str, ","))
	exec("INSERT INTO " + tb("comp") + " VALUES " + strings.Join(comp, ","))

	for _, tc := range []struct {
		table string
		key   keyset.Key
		rows  int
	}{
		{"dense", keyset.Key{Cols: []string{"id"}, Int: true, Unsigned: true}, 1000},
		{"sparse", keyset.Key{Cols: []string{"id"}, Int: true}, 1000},
		{"str", keyset.Key{Cols: []string{"k"}, Binary: []bool{false}}, 1000},
		{"comp", keyset.Key{Cols: []string{"a", "b"}, Binary: []bool{false, true}}, 1000},
		{"empty", keyset.Key{Cols: []string{"id"}, Int: true}, 0},
	} {
		rs, err := keyset.Plan(ctx, db, keyset.Table{From: tb(tc.table), Key: tc.key, Rows: int64(tc.rows)}, 100)
		if err != nil {
			t.Fatalf("%s: %v", tc.table, err)
		}
		if tc.rows > 0 && (len(rs) < 8 || len(rs) > 12) {
			t.Errorf("%s: %d ranges for %d rows at 100 per range", tc.table, len(rs), tc.rows)
		}
		if len(rs) == 0 {
			t.Fatalf("%s: no ranges", tc.table)
		}
		if rs[0].Lo != nil || rs[len(rs)-1].Hi != nil {
			t.Errorf("%s: first range must be open below and last open above: %v", tc.table, rs)
		}
		total := 0
		for _, r := range rs {
			w, args := tc.key.Where(r)
			q := "SELECT COUNT(*) FROM " + tb(tc.table)
			if w != "" {
				q += " WHERE " + w
			}
			var n int
			if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
				t.Fatalf("%s: %s: %v", tc.table, q, err)
			}
			total += n
		}
		if total != tc.rows {
			t.Errorf("%s: ranges hold %d rows, table has %d", tc.table, total, tc.rows)
		}
	}
}

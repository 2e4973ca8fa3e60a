package schema

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"

	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestLoadTable(t *testing.T) {
	inst := testenv.Shared(t, "schema")
	db := testenv.FreshDatabase(t, inst, "schema")
	_, err := inst.DB().Exec("CREATE TABLE `" + db + "`.t (" +
		"a INT UNSIGNED NOT NULL, b VARCHAR(64) CHARACTER SET utf8mb4 NULL, c DECIMAL(10,2) NOT NULL, " +
		"d ENUM('x','y') NULL, e DATETIME(6) NULL, " +
		"PRIMARY KEY (b, a), UNIQUE KEY uk_c (c), UNIQUE KEY uk_de (d, e), KEY k_e (e))")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tb, err := LoadTable(ctx, inst.DB(), db, "t")
	if err != nil {
		t.Fatal(err)
	}
	var names, types []string
	for _, c := range tb.Columns {
		names = append(names, c.Name)
		types = append(types, c.Type)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("names %v", names)
	}
	if !reflect.DeepEqual(types, []string{"int(10) unsigned", "varchar(64)", "decimal(10,2)", "enum('x','y')", "datetime(6)"}) {
		t.Fatalf("types %v", types)
	}
	if !tb.Columns[0].Unsigned || tb.Columns[0].Nullable || !tb.Columns[3].Nullable || tb.Columns[1].Nullable || tb.Columns[1].Charset != "utf8mb4" || tb.Columns[2].Charset != "" {
		t.Fatalf("flags %+v", tb.Columns)
	}
	if !reflect.DeepEqual(tb.PrimaryKey, []int{1, 0}) {
		t.Fatalf("pk %v", tb.PrimaryKey)
	}
	if !reflect.DeepEqual(tb.UniqueKeys, [][]int{{2}, {3, 4}}) {
		t.Fatalf("uks %v", tb.UniqueKeys)
	}
	if _, err := LoadTable(ctx, inst.DB(), db, "missing"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("missing table: %v", err)
	}
}

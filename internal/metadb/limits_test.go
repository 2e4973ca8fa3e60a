package metadb_test

import (
	"testing"

	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
)

// TestMaxLengthMatchesServer checks the limits derived from the migrations' DDL are the ones
// MariaDB enforces, for every string column of a freshly migrated MetaDB (and no column is
// missing), so the API's length checks never drift from the schema.
func TestMaxLengthMatchesServer(t *testing.T) {
	m := metadbtest.Fresh(t)
	rows, err := m.DB.Query(`SELECT table_schema, table_name, column_name, data_type, character_maximum_length, character_octet_length
		FROM information_schema.columns WHERE table_schema IN (?, ?, ?) AND character_octet_length IS NOT NULL`,
		m.Names.RM, m.Names.CM, m.Names.Heartbeat)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var schema, table, col, typ string
		var chars, octets int64
		if err := rows.Scan(&schema, &table, &col, &typ, &chars, &octets); err != nil {
			t.Fatal(err)
		}
		n++
		ref := table + "." + col
		max, bytes, ok := metadb.MaxLength(ref)
		if !ok {
			t.Errorf("%s.%s (%s) has no limit from the migrations", schema, ref, typ)
			continue
		}
		want, wantBytes := int(chars), false
		switch typ {
		case "char", "varchar":
		default: // binary, varbinary, the text and blob types: a byte limit
			want, wantBytes = int(octets), true
		}
		if max != want || bytes != wantBytes {
			t.Errorf("%s: MaxLength %d (bytes %v), MariaDB %s holds %d (bytes %v)", ref, max, bytes, typ, want, wantBytes)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d string columns found", n)
	}
	if _, _, ok := metadb.MaxLength("data_sources.port"); ok {
		t.Fatal("an INT column has a length limit")
	}
}

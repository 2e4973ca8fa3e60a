package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/changelog"
)

// A reader gets records of at most the version it announces (codec=N; none: 1, an Incr-Sync of
// v0.1.0 during a rolling upgrade): a newer record is sent without what its version added (the
// DDL's source session below 2, its version-3 fields below 3), every other record as stored; a
// reader of this build gets the records as stored.
func TestReadersOfOlderRecordVersions(t *testing.T) {
	ddl := &changelog.Txn{GTID: "0-1-7", Seq: 9, CommitTime: time.Unix(3, 0).UTC(), DDL: &changelog.DDL{DB: "d", Statement: "CREATE TABLE t (a INT)", Tables: []string{"d.t"},
		Session: &changelog.Session{HasSQLMode: true, SQLMode: 1 << 21, ClientCharset: 8, ConnectionCollation: 8, ServerCollation: 45, TimeZone: "+05:00",
			HasExplicitDefaults: true, ExplicitDefaults: true, Timestamp: 1700000000123456}}}
	var raw []byte
	for _, txn := range []*changelog.Txn{sampleTxn(), ddl} {
		b, err := appendTxn(nil, txn)
		if err != nil {
			t.Fatal(err)
		}
		raw = binary.LittleEndian.AppendUint32(raw, uint32(len(b)))
		raw = binary.LittleEndian.AppendUint32(raw, crc32c(b))
		raw = append(raw, b...)
	}
	first := recordHeader + int(binary.LittleEndian.Uint32(raw))
	if raw[first+recordHeader] != codecVersionSessionTS {
		t.Fatalf("the DDL is stored as version %d, want %d", raw[first+recordHeader], codecVersionSessionTS)
	}
	for _, tc := range []struct {
		query   string
		version byte
	}{
		{"", codecVersion}, {"&codec=x", codecVersion}, {"&codec=1", codecVersion},
		{"&codec=2", codecVersionSession}, {fmt.Sprintf("&codec=%d", codecNewest), codecNewest}, {"&codec=9", codecNewest},
	} {
		f, err := parseFilter(httptest.NewRequest("GET", "/v1/read?consumer=c"+tc.query, nil))
		if err != nil {
			t.Fatal(err)
		}
		if f.none() != (tc.version == codecNewest) {
			t.Fatalf("%q: none() = %t", tc.query, f.none())
		}
		out, err := filterRecords(newDecoder(), f, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out[:first], raw[:first]) {
			t.Fatalf("%q: a version-1 record was re-encoded", tc.query)
		}
		rec := out[first:]
		body := rec[recordHeader:]
		if body[0] != tc.version || len(body) != int(binary.LittleEndian.Uint32(rec)) || crc32c(body) != binary.LittleEndian.Uint32(rec[4:]) {
			t.Fatalf("%q: DDL record version %d (want %d), header %x", tc.query, body[0], tc.version, rec[:recordHeader])
		}
		got, err := newDecoder().decode(body)
		if err != nil {
			t.Fatal(err)
		}
		ss := got.DDL.Session
		switch {
		case got.DDL.Statement != ddl.DDL.Statement || got.GTID != ddl.GTID:
			t.Fatalf("%q: DDL %+v", tc.query, got.DDL)
		case tc.version == codecVersion && ss != nil,
			tc.version == codecVersionSession && (ss == nil || ss.TimeZone != "+05:00" || ss.Timestamp != 0 || ss.HasExplicitDefaults),
			tc.version == codecVersionSessionTS && (ss == nil || *ss != *ddl.DDL.Session):
			t.Fatalf("%q: session %+v", tc.query, ss)
		}
	}
}

package binlog

import (
	"encoding/binary"
	"testing"
)

// TestSessionOf: the status variables of a Query event give sql_mode, charsets, time_zone and
// foreign_key_checks; variables before them are stepped over; an unknown one ends the read.
func TestSessionOf(t *testing.T) {
	var v []byte
	v = append(v, qFlags2)
	v = binary.LittleEndian.AppendUint32(v, optionNoForeignKeyChecks|optionExplicitDefTimestamp)
	v = append(v, qSQLMode)
	v = binary.LittleEndian.AppendUint64(v, 1<<21)
	v = append(v, qCatalogNZ, 3, 's', 't', 'd')
	v = append(v, qCharset)
	v = binary.LittleEndian.AppendUint16(v, 8)
	v = binary.LittleEndian.AppendUint16(v, 8)
	v = binary.LittleEndian.AppendUint16(v, 45)
	v = append(v, qTimeZone, 6, '+', '0', '5', ':', '0', '0')
	v = append(v, qUpdatedDBs, 1, 'd', 'b', 0)
	v = append(v, qHRNow, 1, 2, 3)
	s := sessionOf(v, true, 1796218034)
	if s == nil || !s.HasFlags || s.FKChecks || !s.HasSQLMode || s.SQLMode != 1<<21 || s.ClientCharset != 8 || s.ConnectionCollation != 8 || s.ServerCollation != 45 || s.TimeZone != "+05:00" ||
		!s.HasExplicitDefaults || !s.ExplicitDefaults || s.Timestamp != 1796218034*1_000_000+0x030201 {
		t.Fatalf("session %+v", s)
	}
	// MySQL has no explicit_defaults_for_timestamp bit; without microseconds the second counts
	binary.LittleEndian.PutUint32(v[1:], 0)
	if s := sessionOf(v[:len(v)-4], false, 7); s == nil || s.HasExplicitDefaults || s.ExplicitDefaults || s.Timestamp != 7_000_000 {
		t.Fatalf("mysql session %+v", s)
	}
	if s := sessionOf(v, true, 0); s == nil || !s.HasExplicitDefaults || s.ExplicitDefaults {
		t.Fatalf("explicit_defaults_for_timestamp=0: %+v", s)
	}
	if s := sessionOf(append([]byte{200, 1, 2}, v...), true, 1); s != nil {
		t.Fatalf("unknown first variable: %+v, want nil", s)
	}
	if s := sessionOf(v[:3], true, 1); s != nil {
		t.Fatalf("truncated: %+v, want nil", s)
	}
}

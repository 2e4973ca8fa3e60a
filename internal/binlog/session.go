package binlog

import (
	"encoding/binary"

	"github.com/omsdev/oms/internal/changelog"
)

// Query event status variable codes (MySQL and MariaDB log_event.h).
const (
	qFlags2         = 0
	qSQLMode        = 1
	qCatalog        = 2
	qAutoIncrement  = 3
	qCharset        = 4
	qTimeZone       = 5
	qCatalogNZ      = 6
	qLCTimeNames    = 7
	qCharsetDB      = 8
	qTableMapForUpd = 9
	qMasterData     = 10
	qInvoker        = 11
	qUpdatedDBs     = 12
	qMicroseconds   = 13
	qHRNow          = 128 // MariaDB
	qXID            = 129 // MariaDB
	qGTIDFlags3     = 130 // MariaDB

	optionNoForeignKeyChecks = 1 << 26
	// optionExplicitDefTimestamp is MariaDB's flags2 bit for explicit_defaults_for_timestamp
	// (MySQL's flags2 has no such bit).
	optionExplicitDefTimestamp = 1 << 24
)

// sessionOf reads the session context a statement ran in from a Query event's status
// variables: sql_mode, the client/connection/server charsets, time_zone, foreign_key_checks,
// (MariaDB) explicit_defaults_for_timestamp, and the statement's start time from the event's
// seconds (unixSec) and the microseconds the source logged. It stops at a variable it does not
// know (their lengths are not self-describing) and returns what it read; nil when nothing was
// there.
func sessionOf(vars []byte, mariadb bool, unixSec uint32) *changelog.Session {
	s := &changelog.Session{FKChecks: true}
	found := false
	for i := 0; i < len(vars); {
		code := vars[i]
		i++
		need := func(n int) bool { return i+n <= len(vars) }
		switch code {
		case qFlags2:
			if !need(4) {
				return nil
			}
			f2 := binary.LittleEndian.Uint32(vars[i:])
			s.FKChecks = f2&optionNoForeignKeyChecks == 0
			s.HasFlags = true
			if mariadb {
				s.HasExplicitDefaults, s.ExplicitDefaults = true, f2&optionExplicitDefTimestamp != 0
			}
			i += 4
		case qSQLMode:
			if !need(8) {
				return nil
			}
			s.SQLMode = binary.LittleEndian.Uint64(vars[i:])
			s.HasSQLMode = true
			i += 8
		case qCatalog:
			if !need(1) || !need(1+int(vars[i])+1) {
				return nil
			}
			i += 1 + int(vars[i]) + 1
		case qAutoIncrement:
			i += 4
		case qCharset:
			if !need(6) {
				return nil
			}
			s.ClientCharset = binary.LittleEndian.Uint16(vars[i:])
			s.ConnectionCollation = binary.LittleEndian.Uint16(vars[i+2:])
			s.ServerCollation = binary.LittleEndian.Uint16(vars[i+4:])
			i += 6
		case qTimeZone:
			if !need(1) || !need(1+int(vars[i])) {
				return nil
			}
			s.TimeZone = string(vars[i+1 : i+1+int(vars[i])])
			i += 1 + int(vars[i])
		case qCatalogNZ:
			if !need(1) {
				return nil
			}
			i += 1 + int(vars[i])
		case qLCTimeNames, qCharsetDB:
			i += 2
		case qTableMapForUpd, qXID:
			i += 8
		case qMasterData:
			i += 4
		case qInvoker:
			for range 2 {
				if !need(1) {
					return nil
				}
				i += 1 + int(vars[i])
			}
		case qUpdatedDBs:
			if !need(1) {
				return nil
			}
			n := int(vars[i])
			i++
			if n != 254 { // OVER_MAX_DBS_IN_EVENT_MTS: no names follow
				for range n {
					for i < len(vars) && vars[i] != 0 {
						i++
					}
					i++
				}
			}
		case qMicroseconds, qHRNow:
			if !need(3) {
				return nil
			}
			if unixSec != 0 {
				us := uint32(vars[i]) | uint32(vars[i+1])<<8 | uint32(vars[i+2])<<16
				s.Timestamp = int64(unixSec)*1_000_000 + int64(us)
			}
			i += 3
		case qGTIDFlags3:
			i++
		default:
			return result(s, found, unixSec)
		}
		found = true
		if i > len(vars) {
			return nil
		}
	}
	return result(s, found, unixSec)
}

func result(s *changelog.Session, found bool, unixSec uint32) *changelog.Session {
	if s.Timestamp == 0 && unixSec != 0 {
		s.Timestamp = int64(unixSec) * 1_000_000 // no microseconds logged: the statement's second
	}
	if !found || !s.HasFlags && !s.HasSQLMode && s.ClientCharset == 0 && s.TimeZone == "" {
		return nil
	}
	return s
}

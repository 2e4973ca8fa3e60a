package incrsync

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/omserr"
)

// retryableNumbers are server errors that go away by themselves: deadlock, lock wait timeout,
// connection trouble, server shutting down, read-only during a failover.
var retryableNumbers = map[uint16]bool{
	1205: true,                                     // lock wait timeout
	1213: true,                                     // deadlock
	1040: true,                                     // too many connections
	1053: true,                                     // server shutdown in progress
	1077: true,                                     // normal shutdown
	1158: true, 1159: true, 1160: true, 1161: true, // network read/write errors
	1290: true,                                     // --read-only (failover in progress)
	1836: true,                                     // read-only mode
	1927: true,                                     // connection was killed
	2002: true, 2003: true, 2006: true, 2013: true, // client: cannot connect, gone away, lost
	4031: true, // disconnected by server (idle)
}

// retryable reports whether a target error should be retried with backoff.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return retryableNumbers[me.Number]
	}
	if omserr.CodeOf(err) != "" {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

func errNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// fatalRow builds the operator error for a failed row: error code, table, key and position.
func fatalRow(err error, r *mrow, gtid string) error {
	if omserr.CodeOf(err) != "" {
		return err
	}
	num := errNumber(err)
	return omserr.Wrap(err, omserr.IncrApplyFailed,
		fmt.Sprintf("applying %s on %s key %s (source GTID %s) failed with target error %d", r.op, r.t.quoted, keyText(r), gtid, num),
		"fix the cause on the target (schema, privileges, data), then resume the task; the transaction is retried from its start")
}

func conflict(r *mrow, gtid, what string) error {
	return omserr.New(omserr.IncrRowConflict,
		fmt.Sprintf("strict mode: %s on %s key %s at source GTID %s: %s", r.op, r.t.quoted, keyText(r), gtid, what),
		"the target differs from the source: compare the row, repair it (or restart the full copy), then resume; set strict_after to a later position only if the full copy really ended later")
}

// keyText prints a row's identity key (or its whole image) for messages.
func keyText(r *mrow) string {
	img := r.after
	if r.op != changelog.OpInsert && r.before != nil {
		img = r.before
	}
	if img == nil {
		return "()"
	}
	idx := r.t.ident
	if idx == nil {
		idx = make([]int, len(img))
		for i := range idx {
			idx[i] = i
		}
	}
	var parts []string
	for _, i := range idx {
		v := img[i]
		s := fmt.Sprint(v)
		if b, ok := v.([]byte); ok {
			s = string(b)
		}
		if len(s) > 64 {
			s = s[:64] + "..."
		}
		parts = append(parts, r.t.names[i]+"="+s)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

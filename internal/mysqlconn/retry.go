package mysqlconn

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/omserr"
)

// retryableNumbers are server and client errors that go away by themselves: deadlock, lock wait
// timeout, connection trouble, server shutting down, read-only during a failover.
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

// Retryable reports whether err is worth retrying with backoff: a transient server error (by
// number), a lost or refused connection, or a network error. An operator error (*omserr.Error)
// never is: it already says what a person must do.
func Retryable(err error) bool {
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

// ErrNumber is the server error number in err's chain (0: not a server error).
func ErrNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

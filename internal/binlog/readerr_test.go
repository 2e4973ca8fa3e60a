package binlog

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
)

func TestReadEventErrPurged(t *testing.T) {
	purged := &mysql.MyError{Code: mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, Message: "Could not find first log file name in binary log index file"}
	for _, tc := range []struct {
		name     string
		err      error
		timedOut bool
		want     bool
	}{
		{"server 1236", purged, false, true},
		{"server 1236 wrapped", fmt.Errorf("dump: %w", purged), false, true},
		{"server 1236 after silence", purged, true, true},
		{"other server error", &mysql.MyError{Code: 1045, Message: "Access denied"}, false, false},
		// The message mentions purging but the server did not say 1236: not ErrPurged (text is
		// never matched).
		{"text only", errors.New("binlog 1236 was purged"), false, false},
		{"cancelled", context.Canceled, true, false},
	} {
		got := readEventErr(tc.err, tc.timedOut)
		if errors.Is(got, ErrPurged) != tc.want {
			t.Errorf("%s: errors.Is(%v, ErrPurged) = %v, want %v", tc.name, got, !tc.want, tc.want)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("%s: %v lost the cause", tc.name, got)
		}
	}
}

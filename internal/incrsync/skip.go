package incrsync

import (
	"errors"
	"strconv"
	"strings"

	"github.com/omsdev/oms/internal/binlog"
)

// skipList is the operator's list of source transactions never to apply (skip_gtids): single
// GTIDs ("0-1-123", "uuid:123") and ranges of one domain and server ("0-1-120-130",
// "uuid:120-130"). Exact: only those transactions, DDL or DML.
type skipList struct {
	exact  map[string]bool
	ranges []gtidRange
}

type gtidRange struct {
	prefix   string // "0-1-" or "uuid:"
	from, to uint64
}

func newSkipList(entries ...[]string) (*skipList, error) {
	l := &skipList{exact: map[string]bool{}}
	var errs []error
	for _, list := range entries {
		for _, e := range list {
			e = strings.TrimSpace(e)
			p, from, to, err := binlog.ParseGTIDRange(e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if from == to {
				l.exact[p+strconv.FormatUint(from, 10)] = true
			} else {
				l.ranges = append(l.ranges, gtidRange{p, from, to})
			}
		}
	}
	return l, errors.Join(errs...)
}

// has reports whether the operator asked to skip the transaction.
func (l *skipList) has(gtid string) bool {
	if gtid == "" {
		return false
	}
	if l.exact[gtid] {
		return true
	}
	for _, r := range l.ranges {
		if rest, ok := strings.CutPrefix(gtid, r.prefix); ok {
			if n, err := strconv.ParseUint(rest, 10, 64); err == nil && n >= r.from && n <= r.to {
				return true
			}
		}
	}
	return false
}

// stopAt marks a fatal error with the source transaction it stopped at, for Status (and so for
// the operator's "skip this event").
type stopAt struct {
	gtid string
	err  error
}

func (e *stopAt) Error() string { return e.err.Error() }
func (e *stopAt) Unwrap() error { return e.err }

// Package binlog is oms's only door to the MySQL/MariaDB replication protocol: it wraps go-mysql's
// replication package (the BinlogSyncer that connects to a source as a replica) and turns its
// events into oms values. It also owns the position types every other package uses: GTIDSet and
// Position. gtid.go and position.go import nothing from go-mysql, so consumers of positions
// (Incr-Sync checkpoints, the Store's index) never depend on the replication library.
package binlog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Flavors of GTID.
const (
	FlavorMariaDB = "mariadb"
	FlavorMySQL   = "mysql"
)

// GTIDSet is a set of source transactions, as a checkpoint names them ("everything up to here").
//
// MariaDB ("0-1-42,1-2-7"): per replication domain, the last sequence number applied; every
// GTID of that domain with a sequence number at or below it is contained. The server id of the
// stored GTID is kept (it is what a replica sends to start) but does not affect containment.
//
// MySQL ("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42:50"): per server UUID, a list of intervals.
//
// The zero value is an empty MariaDB set. GTIDSet holds maps: copy with Clone.
type GTIDSet struct {
	flavor string
	maria  map[uint32]MariaGTID      // domain -> last GTID
	mysql  map[string][]gtidInterval // lower-case uuid -> sorted, merged, half-open intervals
}

// MariaGTID is one MariaDB GTID domain-server-seq.
type MariaGTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
}

func (g MariaGTID) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" + strconv.FormatUint(uint64(g.ServerID), 10) + "-" + strconv.FormatUint(g.Seq, 10)
}

// gtidInterval is [Start, Stop) of transaction numbers.
type gtidInterval struct{ Start, Stop uint64 }

// NewGTIDSet returns an empty set of the flavor ("mariadb" or "mysql").
func NewGTIDSet(flavor string) (GTIDSet, error) {
	switch flavor {
	case FlavorMariaDB, "":
		return GTIDSet{flavor: FlavorMariaDB, maria: map[uint32]MariaGTID{}}, nil
	case FlavorMySQL:
		return GTIDSet{flavor: FlavorMySQL, mysql: map[string][]gtidInterval{}}, nil
	}
	return GTIDSet{}, fmt.Errorf("unknown GTID flavor %q: use mariadb or mysql", flavor)
}

// ParseGTIDSet parses the text form of a set of the flavor. An empty string is the empty set.
func ParseGTIDSet(flavor, s string) (GTIDSet, error) {
	set, err := NewGTIDSet(flavor)
	if err != nil {
		return set, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return set, nil
	}
	if set.flavor == FlavorMariaDB {
		for _, part := range strings.Split(s, ",") {
			g, err := ParseMariaGTID(strings.TrimSpace(part))
			if err != nil {
				return GTIDSet{}, fmt.Errorf("parse mariadb GTID set %q: %w", s, err)
			}
			if old, ok := set.maria[g.Domain]; ok && old.Seq >= g.Seq {
				continue
			}
			set.maria[g.Domain] = g
		}
		return set, nil
	}
	// MySQL: uuid:interval[:interval...][,uuid:...]; whitespace/newlines around commas allowed.
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		fields := strings.Split(part, ":")
		if len(fields) < 2 {
			return GTIDSet{}, fmt.Errorf("parse mysql GTID set %q: %q needs uuid:interval", s, part)
		}
		uuid, err := normUUID(fields[0])
		if err != nil {
			return GTIDSet{}, fmt.Errorf("parse mysql GTID set %q: %w", s, err)
		}
		for _, iv := range fields[1:] {
			in, err := parseInterval(iv)
			if err != nil {
				return GTIDSet{}, fmt.Errorf("parse mysql GTID set %q: %w", s, err)
			}
			set.mysql[uuid] = addInterval(set.mysql[uuid], in)
		}
	}
	return set, nil
}

// MustParseGTIDSet is ParseGTIDSet for constants in tests; it panics on error.
func MustParseGTIDSet(flavor, s string) GTIDSet {
	g, err := ParseGTIDSet(flavor, s)
	if err != nil {
		panic(err)
	}
	return g
}

// ParseMariaGTID parses "domain-server-seq".
func ParseMariaGTID(s string) (MariaGTID, error) {
	f := strings.Split(s, "-")
	if len(f) != 3 {
		return MariaGTID{}, fmt.Errorf("GTID %q is not domain-server-seq", s)
	}
	d, err1 := strconv.ParseUint(f[0], 10, 32)
	sv, err2 := strconv.ParseUint(f[1], 10, 32)
	q, err3 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return MariaGTID{}, fmt.Errorf("GTID %q is not domain-server-seq of decimal numbers", s)
	}
	return MariaGTID{Domain: uint32(d), ServerID: uint32(sv), Seq: q}, nil
}

// MySQLGTID is one MySQL GTID uuid:number.
type MySQLGTID struct {
	UUID string // lower case, with dashes
	N    uint64
}

// ParseMySQLGTID parses "uuid:n".
func ParseMySQLGTID(s string) (MySQLGTID, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return MySQLGTID{}, fmt.Errorf("GTID %q is not uuid:number", s)
	}
	u, err := normUUID(s[:i])
	if err != nil {
		return MySQLGTID{}, err
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || n == 0 {
		return MySQLGTID{}, fmt.Errorf("GTID %q: transaction number must be a positive decimal", s)
	}
	return MySQLGTID{UUID: u, N: n}, nil
}

func normUUID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 36 {
		return "", fmt.Errorf("server uuid %q is not 36 characters", s)
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return "", fmt.Errorf("server uuid %q: expected '-' at %d", s, i)
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("server uuid %q: not hexadecimal", s)
		}
	}
	return s, nil
}

func parseInterval(s string) (gtidInterval, error) {
	s = strings.TrimSpace(s)
	a, b, found := strings.Cut(s, "-")
	lo, err := strconv.ParseUint(a, 10, 64)
	if err != nil || lo == 0 {
		return gtidInterval{}, fmt.Errorf("interval %q: start must be a positive decimal", s)
	}
	hi := lo
	if found {
		hi, err = strconv.ParseUint(b, 10, 64)
		if err != nil || hi < lo {
			return gtidInterval{}, fmt.Errorf("interval %q: end must be a decimal >= start", s)
		}
	}
	if hi == ^uint64(0) {
		return gtidInterval{}, fmt.Errorf("interval %q: end out of range", s)
	}
	return gtidInterval{Start: lo, Stop: hi + 1}, nil
}

// addInterval inserts in into a sorted, merged list and keeps it sorted and merged.
func addInterval(list []gtidInterval, in gtidInterval) []gtidInterval {
	out := make([]gtidInterval, 0, len(list)+1)
	placed := false
	for _, iv := range list {
		switch {
		case iv.Stop < in.Start:
			out = append(out, iv)
		case in.Stop < iv.Start:
			if !placed {
				out = append(out, in)
				placed = true
			}
			out = append(out, iv)
		default: // overlapping or adjacent: merge into in
			in.Start = min(in.Start, iv.Start)
			in.Stop = max(in.Stop, iv.Stop)
		}
	}
	if !placed {
		out = append(out, in)
	}
	return out
}

// Flavor is "mariadb" or "mysql".
func (s GTIDSet) Flavor() string {
	if s.flavor == "" {
		return FlavorMariaDB
	}
	return s.flavor
}

// IsEmpty reports whether the set contains no transaction.
func (s GTIDSet) IsEmpty() bool { return len(s.maria) == 0 && len(s.mysql) == 0 }

// Add adds one GTID ("0-1-42" or "uuid:42"). For MariaDB the domain's position moves to the GTID
// only if it is later than the current one (a set names "up to"). It returns an error if the
// text is not a GTID of the set's flavor.
func (s *GTIDSet) Add(gtid string) error {
	if s.Flavor() == FlavorMariaDB {
		g, err := ParseMariaGTID(gtid)
		if err != nil {
			return err
		}
		s.AddMaria(g)
		return nil
	}
	g, err := ParseMySQLGTID(gtid)
	if err != nil {
		return err
	}
	if s.mysql == nil {
		s.mysql = map[string][]gtidInterval{}
	}
	s.mysql[g.UUID] = addInterval(s.mysql[g.UUID], gtidInterval{g.N, g.N + 1})
	return nil
}

// AddMaria adds a parsed MariaDB GTID (the capture hot path avoids re-parsing text).
func (s *GTIDSet) AddMaria(g MariaGTID) {
	if s.maria == nil {
		s.flavor = FlavorMariaDB
		s.maria = map[uint32]MariaGTID{}
	}
	if old, ok := s.maria[g.Domain]; ok && old.Seq >= g.Seq {
		return
	}
	s.maria[g.Domain] = g
}

// Contains reports whether the GTID is in the set. Text that is not a GTID of the flavor is
// never contained.
func (s GTIDSet) Contains(gtid string) bool {
	if s.Flavor() == FlavorMariaDB {
		g, err := ParseMariaGTID(gtid)
		return err == nil && s.ContainsMaria(g)
	}
	g, err := ParseMySQLGTID(gtid)
	if err != nil {
		return false
	}
	for _, iv := range s.mysql[g.UUID] {
		if g.N >= iv.Start && g.N < iv.Stop {
			return true
		}
	}
	return false
}

// ContainsMaria is Contains for a parsed MariaDB GTID.
func (s GTIDSet) ContainsMaria(g MariaGTID) bool {
	old, ok := s.maria[g.Domain]
	return ok && g.Seq <= old.Seq
}

// ContainsSet reports whether every transaction of o is in s (s is at or after o). Sets of
// different flavors never contain each other, except that anything contains the empty set.
func (s GTIDSet) ContainsSet(o GTIDSet) bool {
	if o.IsEmpty() {
		return true
	}
	if s.Flavor() != o.Flavor() {
		return false
	}
	if s.Flavor() == FlavorMariaDB {
		for d, g := range o.maria {
			if old, ok := s.maria[d]; !ok || old.Seq < g.Seq {
				return false
			}
		}
		return true
	}
	for u, ivs := range o.mysql {
		mine := s.mysql[u]
		for _, iv := range ivs {
			covered := false
			for _, m := range mine {
				if iv.Start >= m.Start && iv.Stop <= m.Stop {
					covered = true
					break
				}
			}
			if !covered {
				return false
			}
		}
	}
	return true
}

// Equal reports whether both sets hold the same transactions.
func (s GTIDSet) Equal(o GTIDSet) bool { return s.ContainsSet(o) && o.ContainsSet(s) }

// Union adds every transaction of o to s. o must have the same flavor (or be empty).
func (s *GTIDSet) Union(o GTIDSet) error {
	if o.IsEmpty() {
		return nil
	}
	if s.IsEmpty() && s.flavor == "" {
		*s = o.Clone()
		return nil
	}
	if s.Flavor() != o.Flavor() {
		return fmt.Errorf("union of a %s and a %s GTID set", s.Flavor(), o.Flavor())
	}
	if s.Flavor() == FlavorMariaDB {
		for _, g := range o.maria {
			s.AddMaria(g)
		}
		return nil
	}
	if s.mysql == nil {
		s.mysql = map[string][]gtidInterval{}
	}
	for u, ivs := range o.mysql {
		for _, iv := range ivs {
			s.mysql[u] = addInterval(s.mysql[u], iv)
		}
	}
	return nil
}

// Clone returns an independent copy.
func (s GTIDSet) Clone() GTIDSet {
	c := GTIDSet{flavor: s.flavor}
	if s.maria != nil {
		c.maria = make(map[uint32]MariaGTID, len(s.maria))
		for k, v := range s.maria {
			c.maria[k] = v
		}
	}
	if s.mysql != nil {
		c.mysql = make(map[string][]gtidInterval, len(s.mysql))
		for k, v := range s.mysql {
			c.mysql[k] = append([]gtidInterval(nil), v...)
		}
	}
	return c
}

// Rewind returns a copy of the set without its last n transactions of each MariaDB domain (the
// domain's sequence number lowered by n, to no less than 1) or MySQL source uuid (the highest n
// transaction numbers, keeping at least the first).
func (s GTIDSet) Rewind(n uint64) GTIDSet {
	c := s.Clone()
	for d, g := range c.maria {
		g.Seq = max(g.Seq, n+1) - n
		c.maria[d] = g
	}
	for u, list := range c.mysql {
		left := n
		for len(list) > 0 && left > 0 {
			last := &list[len(list)-1]
			size := last.Stop - last.Start
			if size > left || (len(list) == 1 && size > 1 && size <= left) {
				cut := min(left, size-1)
				last.Stop -= cut
				break
			}
			if len(list) == 1 {
				break // keep the first transaction
			}
			left -= size
			list = list[:len(list)-1]
		}
		c.mysql[u] = list
	}
	return c
}

// Domains returns the MariaDB GTIDs of the set, by domain (nil for MySQL).
func (s GTIDSet) Domains() []MariaGTID {
	out := make([]MariaGTID, 0, len(s.maria))
	for _, g := range s.maria {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out
}

// String is the canonical text form: MariaDB domains in ascending order; MySQL uuids sorted, with
// merged intervals. ParseGTIDSet(flavor, s.String()) is equal to s.
func (s GTIDSet) String() string {
	var b strings.Builder
	if s.Flavor() == FlavorMariaDB {
		for i, g := range s.Domains() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(g.String())
		}
		return b.String()
	}
	uuids := make([]string, 0, len(s.mysql))
	for u, ivs := range s.mysql {
		if len(ivs) > 0 {
			uuids = append(uuids, u)
		}
	}
	sort.Strings(uuids)
	for i, u := range uuids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(u)
		for _, iv := range s.mysql[u] {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(iv.Start, 10))
			if iv.Stop-1 != iv.Start {
				b.WriteByte('-')
				b.WriteString(strconv.FormatUint(iv.Stop-1, 10))
			}
		}
	}
	return b.String()
}

// ParseGTIDRange reads one GTID or a range of sequence numbers of one domain and server (MariaDB
// "D-S-N", "D-S-N1-N2") or one server UUID (MySQL "UUID:N", "UUID:N1-N2"), e.g. an operator's
// skip; prefix is "D-S-" or "UUID:". The error names the accepted forms.
func ParseGTIDRange(s string) (prefix string, from, to uint64, err error) {
	bad := fmt.Errorf("GTID %q: use D-S-N or D-S-N1-N2 (MariaDB), UUID:N or UUID:N1-N2 (MySQL)", s)
	var nums []string
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		prefix = s[:i+1]
		nums = strings.Split(s[i+1:], "-")
	} else {
		parts := strings.Split(s, "-")
		if len(parts) != 3 && len(parts) != 4 {
			return "", 0, 0, bad
		}
		for _, p := range parts[:2] {
			if _, err := strconv.ParseUint(p, 10, 32); err != nil {
				return "", 0, 0, bad
			}
		}
		prefix, nums = parts[0]+"-"+parts[1]+"-", parts[2:]
	}
	if len(nums) < 1 || len(nums) > 2 {
		return "", 0, 0, bad
	}
	if from, err = strconv.ParseUint(nums[0], 10, 64); err != nil {
		return "", 0, 0, bad
	}
	to = from
	if len(nums) == 2 {
		if to, err = strconv.ParseUint(nums[1], 10, 64); err != nil || to < from {
			return "", 0, 0, bad
		}
	}
	return prefix, from, to, nil
}

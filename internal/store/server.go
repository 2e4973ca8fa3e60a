package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/omserr"
)

// Serving constants.
const (
	// frameTarget is the uncompressed size a read frame grows to before it is sent: large enough
	// that a 200 ms RTT link is kept full by TCP alone (no per-record round trip), small enough
	// to bound memory per consumer.
	frameTarget = 2 << 20
	// emptyHold is how long transactions a consumer's filter left empty may wait to go out
	// together with the next transaction it takes (or on their own): they carry only their
	// GTID, which the consumer needs for its checkpoint, not for its data. Sent one by one,
	// each would be a frame of its own (1 of 8 tables selected: twice the bytes of 1/8).
	emptyHold = 200 * time.Millisecond
)

// heartbeatEvery is how often an idle stream gets a heartbeat frame (a variable for tests: a
// stream must wake for new records, never wait for its heartbeat).
var heartbeatEvery = time.Second

// Server serves the log to consumers over HTTP (see docs/store.md for the protocol).
type Server struct {
	log       *Log
	consumers *Consumers
	logger    *slog.Logger
	// sourceTime returns the source time of the last captured event (unix s) for heartbeats.
	sourceTime func() int64

	handler http.Handler
	tls     clustertls.Source // nil: plain HTTP, anyone may call (hand-written specs only)
	ins     *instruments      // the Store's (nil: a server of its own in tests)
	streams atomic.Int64
	sent    atomic.Int64
	// filtered counts rows consumers' filters kept from leaving (never sent)
	filtered atomic.Int64
	wg       sync.WaitGroup

	mu   sync.Mutex
	addr string        // bound address, kept so a second Serve (resume) listens there again
	ln   net.Listener  // nil between Serve calls
	stop chan struct{} // closed when the current Serve ends
}

// NewServer returns a server for log; Serve starts it.
func NewServer(l *Log, consumers *Consumers, logger *slog.Logger, sourceTime func() int64) *Server {
	s := &Server{log: l, consumers: consumers, logger: logger, sourceTime: sourceTime, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/read", s.handleRead)
	mux.HandleFunc("POST /v1/ack", control.Handle(s.ack))
	mux.HandleFunc("POST /v1/unregister", control.Handle(s.unregister))
	mux.Handle("GET /v1/consumers", clustertls.Guard(clustertls.IsNode, control.Handle(func(*http.Request) (any, error) { return s.consumers.List(), nil })))
	s.handler = clustertls.Guard(clustertls.AnyIdentity, mux) // 401 before anything is read
	return s
}

// SetTLS makes the server serve mutual TLS with src's material (call before Listen): every
// caller must show a cluster certificate, and a task may only use its own consumer id
// (clustertls.Identity.MayConsume).
func (s *Server) SetTLS(src clustertls.Source) {
	s.mu.Lock()
	s.tls = src
	s.mu.Unlock()
}

// MaxConsumerID bounds a consumer id (it is a key of consumers.json and appears in logs).
const MaxConsumerID = 128

// authorize checks a consumer id's shape and that the caller may use it.
func (s *Server) authorize(r *http.Request, consumer string) error {
	if consumer == "" {
		return omserr.New(omserr.StoreBadRequest, "request without consumer id", "set the consumer id")
	}
	if len(consumer) > MaxConsumerID {
		return omserr.New(omserr.StoreBadRequest, fmt.Sprintf("consumer id is %d bytes, more than %d", len(consumer), MaxConsumerID), "use a shorter consumer id")
	}
	for _, c := range consumer {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._:-", c)) {
			return omserr.New(omserr.StoreBadRequest, fmt.Sprintf("consumer id %q has a character other than letters, digits and . _ : -", consumer), "use such a consumer id")
		}
	}
	if r.TLS == nil {
		return nil
	}
	id, ok := clustertls.Caller(r)
	if !ok {
		return clustertls.Unauthenticated()
	}
	if !id.MayConsume(consumer) {
		return clustertls.Forbidden(id, "use store consumer "+consumer)
	}
	return nil
}

// Listen binds addr ("host:port", port 0 picks one).
func (s *Server) Listen(addr string) error {
	s.mu.Lock()
	src := s.tls
	s.mu.Unlock()
	ln, err := clustertls.Listen(addr, src)
	if err != nil {
		return omserr.Wrap(err, omserr.StoreListen, "cannot listen for consumers on "+addr, "pick a free address in the store's listen setting")
	}
	s.mu.Lock()
	s.ln, s.addr = ln, ln.Addr().String()
	s.mu.Unlock()
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve serves until ctx ends, then closes every stream. It may be called again afterwards
// (a resumed component); it then listens on the same address again.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.ln == nil {
		s.mu.Unlock()
		if err := s.Listen(s.addr); err != nil {
			return err
		}
		s.mu.Lock()
	}
	ln := s.ln
	stop := make(chan struct{})
	s.stop = stop
	s.mu.Unlock()
	srv := clustertls.NewServer(s.handler, s.logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case serr := <-errc:
		err = fmt.Errorf("serve consumers: %w", serr)
	}
	close(stop)
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	_ = srv.Close()
	s.wg.Wait()
	if ctx.Err() != nil {
		<-errc
	}
	s.mu.Lock()
	s.ln = nil
	s.mu.Unlock()
	return err
}

func (s *Server) stopCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stop
}

// control answers the control endpoints and the read path's refusals; an unexpected failure is
// STORE_UNAVAILABLE (503): the consumer dials again.
var control = httpx.Server{Internal: func(_ *http.Request, err error) *omserr.Error {
	return omserr.Wrap(err, omserr.StoreUnavailable, "store failed", "see the store's log")
}}

func writeError(w http.ResponseWriter, err error) { control.WriteError(w, nil, err) }

// consumerRequest decodes an ack or unregister body; a bad one is STORE_BAD_REQUEST with message
// and advice (a body over httpx.MaxBody stays 413).
func (s *Server) consumerRequest(r *http.Request, message, advice string) (ackRequest, error) {
	var a ackRequest
	err := httpx.Decode(r, &a)
	switch {
	case omserr.CodeOf(err) == omserr.APIBodyTooLarge:
		return a, err
	case err != nil || a.Consumer == "":
		return a, omserr.Wrap(err, omserr.StoreBadRequest, message, advice)
	}
	return a, s.authorize(r, a.Consumer)
}

func (s *Server) ack(r *http.Request) (any, error) {
	a, err := s.consumerRequest(r, "ack needs a JSON body with consumer and gtid_set", "send {\"consumer\":..., \"gtid_set\":...}")
	if err != nil {
		return nil, err
	}
	set, err := binlog.ParseGTIDSet(s.log.flavor, a.GTIDSet)
	if err != nil {
		return nil, omserr.Wrap(err, omserr.StoreBadRequest, "ack of consumer "+a.Consumer+" has a bad GTID set", "send the checkpoint as the store's flavor writes it")
	}
	if err := s.consumers.Ack(a.Consumer, set); err != nil {
		return nil, err
	}
	return map[string]string{"status": "ok"}, nil
}

func (s *Server) unregister(r *http.Request) (any, error) {
	a, err := s.consumerRequest(r, "unregister needs a JSON body with consumer", "send {\"consumer\":...}")
	if err != nil {
		return nil, err
	}
	return map[string]string{"status": "ok"}, s.consumers.Remove(a.Consumer)
}

// filter is a parsed ReadRequest filter.
type filter struct {
	dbs, tables map[string]bool
	ops         [4]bool
	anyOp       bool
	sel         *storeSelection // the consumer's selection; nil: none
	dropped     int64           // rows removed so far (for the status)
	kept        int64           // rows and DDL statements kept so far
	// maxCodec is the newest record version the consumer reads (its codec parameter; 1 without
	// one: an Incr-Sync of v0.1.0, during a rolling upgrade). Newer records are sent without
	// what their version added (downgradeSession).
	maxCodec int
}

// codecNewest is the newest record version this build writes; its readers announce it.
const codecNewest = codecVersionSessionTS

func (f *filter) none() bool { return f.selectsAll() && f.maxCodec >= codecNewest }

func (f *filter) selectsAll() bool {
	return len(f.dbs) == 0 && len(f.tables) == 0 && f.anyOp && f.sel == nil
}

func (f *filter) rowPasses(r *changelog.Row) bool {
	if !f.anyOp && (int(r.Op) >= len(f.ops) || !f.ops[r.Op]) {
		return false
	}
	if f.sel != nil && !f.sel.tablePasses(r.Table.DB, r.Table.Name) {
		return false
	}
	return f.tablePasses(r.Table.DB, r.Table.Name)
}

func (f *filter) tablePasses(db, table string) bool {
	if len(f.dbs) == 0 && len(f.tables) == 0 {
		return true
	}
	return f.dbs[db] || f.tables[db+"."+table]
}

func (f *filter) ddlPasses(d *changelog.DDL) bool {
	if f.sel != nil && !f.sel.ddlPasses(d) {
		return false
	}
	if len(f.dbs) == 0 && len(f.tables) == 0 {
		return true
	}
	names := d.Tables
	if len(names) == 0 {
		names = []string{d.DB + "."}
	}
	for _, n := range names {
		db, table, _ := strings.Cut(n, ".")
		if f.dbs[db] || f.tables[n] {
			return true
		}
		if table == "" { // a whole database: any table filter in it
			for t := range f.tables {
				if strings.HasPrefix(t, db+".") {
					return true
				}
			}
		}
	}
	return false
}

func parseFilter(r *http.Request) (*filter, error) {
	q := r.URL.Query()
	codec, cerr := strconv.Atoi(q.Get("codec"))
	if cerr != nil || codec < codecVersion {
		codec = codecVersion
	}
	f := &filter{dbs: map[string]bool{}, tables: map[string]bool{}, anyOp: true, maxCodec: codec}
	for _, d := range splitList(q.Get("db")) {
		f.dbs[d] = true
	}
	for _, t := range splitList(q.Get("table")) {
		f.tables[t] = true
	}
	for _, o := range splitList(q.Get("op")) {
		op, err := changelog.ParseOp(o)
		if err != nil {
			return nil, omserr.Wrap(err, omserr.StoreBadRequest, "bad DML type filter "+o, "use INSERT, UPDATE, DELETE")
		}
		f.ops[op] = true
		f.anyOp = false
	}
	var err error
	f.sel, err = parseSelection(q.Get(selectParam))
	return f, err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	consumer := q.Get("consumer")
	if err := s.authorize(r, consumer); err != nil {
		writeError(w, err)
		return
	}
	flavor := q.Get("flavor")
	if flavor == "" {
		flavor = s.log.flavor
	}
	if flavor != s.log.flavor {
		writeError(w, omserr.New(omserr.StoreBadRequest, fmt.Sprintf("consumer %s asks with a %s position, the store captures %s", consumer, flavor, s.log.flavor), "use the store's flavor"))
		return
	}
	from, err := binlog.ParseGTIDSet(flavor, q.Get("from"))
	if err != nil {
		writeError(w, omserr.Wrap(err, omserr.StoreBadRequest, "consumer "+consumer+" sent a bad checkpoint", "send a GTID set"))
		return
	}
	flt, err := parseFilter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !from.IsEmpty() {
		if purged := s.log.Purged(); !from.ContainsSet(purged) {
			writeError(w, purgedError(fmt.Sprintf("checkpoint %s of consumer %s: transactions up to %s", from, consumer, purged)))
			return
		}
		if base := s.log.Base(); s.log.HasBase() && !from.ContainsSet(base) {
			writeError(w, omserr.New(omserr.StorePositionPurged,
				fmt.Sprintf("checkpoint %s of consumer %s is before the store's start position %s", from, consumer, base),
				"start the store from an earlier position, or the consumer from a newer checkpoint"))
			return
		}
	}
	reg := from
	if reg.IsEmpty() {
		reg = s.log.Base()
		_ = reg.Union(s.log.Purged())
	}
	if err := s.consumers.Register(consumer, reg); err != nil {
		writeError(w, err)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.streams.Add(1)
	defer s.streams.Add(-1)
	s.logger.Info("consumer connected", "consumer", consumer, "from", from.String(), "remote", r.RemoteAddr)
	err = s.stream(r.Context(), w, from, flt, q.Get("compress"))
	s.logger.Info("consumer disconnected", "consumer", consumer, "err", err)
}

// stream writes frames until the client goes away or the server stops; compress is the
// request's compression mode (compress.go).
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, from binlog.GTIDSet, flt *filter, compress string) error {
	enc, err := newFrameEncoder(compress)
	if err != nil {
		return err
	}
	defer enc.close()
	w.Header().Set("Content-Type", "application/x-oms-store-stream")
	if compress == compressStream {
		w.Header().Set(compressHeader, compressHeaderStream)
	}
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush() // the consumer's dial returns now, not with the first frame (a heartbeat: 1 s when idle)
	}
	stop := s.stopCh()
	cur := newCursor(s.log, from)
	defer cur.close()
	dec := newDecoder()
	var raw, out []byte
	send := func(typ byte, data []byte) error {
		payload, err := enc.encode(data)
		if err != nil {
			return err
		}
		var hdr [frameHeader]byte
		hdr[0] = typ
		binary.LittleEndian.PutUint32(hdr[1:], uint32(len(data)))
		binary.LittleEndian.PutUint32(hdr[5:], uint32(len(payload)))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(payload); err != nil {
			return err
		}
		s.sent.Add(int64(len(payload) + frameHeader))
		if fl != nil {
			fl.Flush()
		}
		if typ == frameRecords {
			s.ins.sent(s.log, data, time.Now())
		}
		return nil
	}
	sendErr := func(err error) error {
		var e *omserr.Error
		if !errors.As(err, &e) {
			e = omserr.Wrap(err, omserr.StoreUnavailable, "store failed while reading its log", "see the store's log")
		}
		b, _ := json.Marshal(map[string]string{"code": e.Code, "message": e.Error(), "advice": e.Advice})
		_ = send(frameError, b)
		return err
	}
	lastSend := time.Now()
	var held []byte // records of transactions the filter left empty, not sent yet (emptyHold)
	var heldSince time.Time
	for {
		select {
		case <-stop:
			return sendErr(omserr.New(omserr.StoreUnavailable, "store is stopping", "dial again from your checkpoint"))
		default:
		}
		wake := s.log.notify.wait()
		raw, err = cur.read(raw[:0], frameTarget)
		if err != nil {
			return sendErr(err)
		}
		if len(raw) > 0 {
			data := raw
			if !flt.none() {
				dropped, kept := flt.dropped, flt.kept
				out, err = filterRecords(dec, flt, raw, out[:0])
				if err != nil {
					return sendErr(err)
				}
				s.filtered.Add(flt.dropped - dropped)
				if flt.kept == kept && len(held)+len(out) <= frameTarget && (len(held) == 0 || time.Since(heldSince) < emptyHold) {
					if len(held) == 0 {
						heldSince = time.Now()
					}
					held = append(held, out...)
					continue
				}
				data = out
				if len(held) > 0 {
					data = append(held, out...)
					held = held[:0]
				}
			}
			if err := send(frameRecords, data); err != nil {
				return err
			}
			lastSend = time.Now()
			continue
		}
		if _, closed := s.log.view(); closed {
			return sendErr(omserr.New(omserr.StoreUnavailable, "store is stopping", "dial again from your checkpoint"))
		}
		wait := heartbeatEvery
		if len(held) > 0 {
			if wait = emptyHold - time.Since(heldSince); wait <= 0 {
				if err := send(frameRecords, held); err != nil {
					return err
				}
				held = held[:0]
				lastSend = time.Now()
				continue
			}
		}
		if time.Since(lastSend) >= heartbeatEvery {
			b, _ := json.Marshal(heartbeatInfo{SourceTime: s.sourceTime(), CapturedSeq: s.log.Last().seq})
			if err := send(frameHeartbeat, b); err != nil {
				return err
			}
			lastSend = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return sendErr(omserr.New(omserr.StoreUnavailable, "store is stopping", "dial again from your checkpoint"))
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// downgradeSession leaves out of d's source session what a reader of record version maxCodec
// cannot decode: all of it below version 2, the version-3 fields below version 3. It reports
// whether it changed anything.
func downgradeSession(d *changelog.DDL, maxCodec int) bool {
	switch {
	case maxCodec < codecVersionSession:
		d.Session = nil
		return true
	case maxCodec < codecVersionSessionTS && sessionV3(d.Session):
		ss := *d.Session
		ss.HasExplicitDefaults, ss.ExplicitDefaults, ss.Timestamp = false, false, 0
		d.Session = &ss
		return true
	}
	return false
}

// filterRecords decodes records, drops rows (and DDL) the filter rejects and re-encodes. A
// transaction left without rows is still sent (with no rows) so the consumer's checkpoint moves.
func filterRecords(dec *decoder, f *filter, raw, out []byte) ([]byte, error) {
	for off := 0; off < len(raw); {
		n := int(binary.LittleEndian.Uint32(raw[off:]))
		rec := raw[off : off+recordHeader+n]
		off += recordHeader + n
		if f.selectsAll() && int(rec[recordHeader]) <= f.maxCodec {
			out = append(out, rec...) // only the record version is filtered, and this one is read
			continue
		}
		t, err := dec.decode(rec[recordHeader:])
		if err != nil {
			return out, fmt.Errorf("filter record: %w", err)
		}
		kept := t.Rows[:0]
		changed := false
		for i := range t.Rows {
			if f.rowPasses(&t.Rows[i]) {
				if f.sel != nil && f.sel.project(&t.Rows[i]) {
					changed = true
				}
				kept = append(kept, t.Rows[i])
			}
		}
		f.dropped += int64(len(t.Rows) - len(kept))
		changed = changed || len(kept) != len(t.Rows)
		t.Rows = kept
		if t.DDL != nil && !f.ddlPasses(t.DDL) {
			t.DDL = nil
			changed = true
		}
		if t.DDL != nil && t.DDL.Session != nil && downgradeSession(t.DDL, f.maxCodec) {
			changed = true
		}
		f.kept += int64(len(kept))
		if t.DDL != nil {
			f.kept++
		}
		if !changed {
			out = append(out, rec...)
			continue
		}
		start := len(out)
		out = append(out, make([]byte, recordHeader)...)
		out, err = appendTxn(out, t)
		if err != nil {
			return out, err
		}
		p := out[start+recordHeader:]
		binary.LittleEndian.PutUint32(out[start:], uint32(len(p)))
		binary.LittleEndian.PutUint32(out[start+4:], crc32c(p))
	}
	return out, nil
}

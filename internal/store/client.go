package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// ReadRequest says what a consumer wants from a Store.
type ReadRequest struct {
	// ConsumerID names the consumer; the Store keeps its checkpoint for retention. Required.
	ConsumerID string
	// From is a GTID set in text form (the consumer's checkpoint): the Store sends every
	// transaction not contained in it, in log order. "" = from the start of what the Store has.
	From string
	// Flavor of From: "mariadb" (default) or "mysql".
	Flavor string
	// Databases and Tables ("db.table") filter rows and DDL; both empty = everything. A row
	// passes if its database is in Databases or its db.table is in Tables.
	Databases []string
	Tables    []string
	// Ops filters row changes by DML type; empty = all.
	Ops []changelog.Op
	// Selection, when set, is the consumer's object selection: the Store sends only the rows
	// (and DDL) of the tables it takes and, for rules with a column subset and no row filter,
	// only those columns plus the key columns (selection.Config.StoreFilter). The consumer
	// still applies the whole selection; a Store that predates this sends everything.
	Selection *selection.Config
	// TLS is the consumer's cluster certificate (the Store serves mutual TLS when it has one);
	// nil dials plain HTTP.
	TLS clustertls.Source
}

// Frame types of the read stream (see docs/store.md).
const (
	frameRecords   byte = 1
	frameHeartbeat byte = 2
	frameError     byte = 3
	frameHeader         = 9 // u8 type, u32 raw length, u32 body length
)

// readerQueue is how many decoded frames (each up to frameTarget bytes of records) the reader
// keeps ahead of Next: enough to cover a 200 ms RTT at a few hundred MB/s without holding more
// than a few tens of MB.
const readerQueue = 16

// heartbeatInfo is the body of a heartbeat frame.
type heartbeatInfo struct {
	// SourceTime is the commit time of the last event the Store captured (source clock), unix s.
	SourceTime int64 `json:"source_time"`
	// CapturedSeq is the last durable transaction of the Store.
	CapturedSeq uint64 `json:"captured_seq"`
}

// Reader streams transactions from a Store. Next and Close are not safe for concurrent use;
// Ack may be called from any goroutine.
type Reader struct {
	addr, consumer string
	tls            clustertls.Source
	client         *http.Client
	resp           *http.Response
	cancel         context.CancelFunc
	g              *errgroup.Group
	batches        chan []*changelog.Txn
	cur            []*changelog.Txn
	done           chan struct{}
	err            error
	// wire counts the stream's bytes as received (frame headers and compressed bodies), records
	// the decoded record bytes: Incr-Sync's received and read bytes.
	wire, records atomic.Int64
}

// Bytes returns the bytes received from the Store so far (wire: as sent, compressed; records:
// the change records decoded from them).
func (r *Reader) Bytes() (wire, records int64) { return r.wire.Load(), r.records.Load() }

// Dial opens a read stream on the Store serving at addr (host:port).
func Dial(ctx context.Context, addr string, req ReadRequest) (*Reader, error) {
	if req.ConsumerID == "" {
		return nil, omserr.New(omserr.StoreBadRequest, "read request has no consumer id", "set ReadRequest.ConsumerID")
	}
	q := url.Values{}
	q.Set("consumer", req.ConsumerID)
	q.Set("from", req.From)
	q.Set("compress", compressStream)
	q.Set("codec", strconv.Itoa(codecNewest)) // the newest record version this reader decodes
	if req.Flavor != "" {
		q.Set("flavor", req.Flavor)
	}
	if len(req.Databases) > 0 {
		q.Set("db", strings.Join(req.Databases, ","))
	}
	if len(req.Tables) > 0 {
		q.Set("table", strings.Join(req.Tables, ","))
	}
	if len(req.Ops) > 0 {
		ops := make([]string, len(req.Ops))
		for i, o := range req.Ops {
			ops[i] = o.String()
		}
		q.Set("op", strings.Join(ops, ","))
	}
	if req.Selection != nil {
		if b, err := json.Marshal(req.Selection.StoreFilter()); err == nil && len(b) <= maxSelectParam {
			q.Set(selectParam, string(b))
		}
	}
	client := newHTTPClient(req.TLS)
	sctx, cancel := context.WithCancel(context.Background())
	hreq, err := http.NewRequestWithContext(sctx, http.MethodGet, clustertls.Scheme(req.TLS)+"://"+addr+"/v1/read?"+q.Encode(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("dial store %s: %w", addr, err)
	}
	// The dial itself honours ctx; the stream afterwards lives until Close.
	stop := context.AfterFunc(ctx, cancel)
	resp, err := client.Do(hreq)
	stop()
	if err != nil {
		cancel()
		return nil, omserr.Wrap(err, omserr.StoreUnavailable, "cannot reach the store at "+addr, "check that the store runs and the address and network path are right")
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		defer cancel()
		return nil, decodeHTTPError(resp)
	}
	r := &Reader{addr: addr, consumer: req.ConsumerID, tls: req.TLS, client: client, resp: resp, cancel: cancel,
		batches: make(chan []*changelog.Txn, readerQueue), done: make(chan struct{})}
	g, gctx := errgroup.WithContext(sctx)
	r.g = g
	g.Go(func() error {
		defer close(r.batches)
		return r.readLoop(gctx)
	})
	return r, nil
}

func newHTTPClient(src clustertls.Source) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		DisableCompression:  true, // frames are compressed already
		MaxIdleConnsPerHost: 4,
		ReadBufferSize:      1 << 20,
		WriteBufferSize:     64 << 10,
	}
	return &http.Client{Transport: clustertls.Transport(src, tr)}
}

func decodeHTTPError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct{ Code, Message, Advice string }
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		return omserr.New(e.Code, e.Message, e.Advice)
	}
	return omserr.New(omserr.StoreUnavailable, fmt.Sprintf("store answered %s: %s", resp.Status, strings.TrimSpace(string(body))), "check the store's log")
}

// readLoop reads frames, decompresses and decodes them and queues the transactions.
func (r *Reader) readLoop(ctx context.Context) error {
	br := bufio.NewReaderSize(r.resp.Body, 1<<20)
	zd, err := newFrameDecoder(r.resp.Header.Get(compressHeader) == compressHeaderStream)
	if err != nil {
		return err
	}
	defer zd.close()
	dec := newDecoder()
	var hdr [frameHeader]byte
	var body []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return omserr.Wrap(err, omserr.StoreUnavailable, "read stream from store "+r.addr+" broke", "dial again from your checkpoint")
		}
		typ := hdr[0]
		rawLen := binary.LittleEndian.Uint32(hdr[1:5])
		bodyLen := binary.LittleEndian.Uint32(hdr[5:9])
		if bodyLen > 256<<20 || rawLen > 512<<20 {
			return fmt.Errorf("read stream from store %s: frame of %d bytes is too large", r.addr, bodyLen)
		}
		body = grow(body, int(bodyLen))
		if _, err := io.ReadFull(br, body); err != nil {
			return omserr.Wrap(err, omserr.StoreUnavailable, "read stream from store "+r.addr+" broke", "dial again from your checkpoint")
		}
		r.wire.Add(int64(frameHeader) + int64(bodyLen))
		data, err := zd.decode(body, int(rawLen))
		if err != nil {
			return fmt.Errorf("read stream from store %s: %w", r.addr, err)
		}
		var batch []*changelog.Txn
		switch typ {
		case frameRecords:
			r.records.Add(int64(len(data)))
			batch, err = decodeRecords(dec, data)
			if err != nil {
				return fmt.Errorf("read stream from store %s: %w", r.addr, err)
			}
			now := time.Now()
			for _, t := range batch {
				t.Received = now
			}
		case frameHeartbeat:
			var hb heartbeatInfo
			if err := json.Unmarshal(data, &hb); err != nil {
				return fmt.Errorf("read stream from store %s: heartbeat: %w", r.addr, err)
			}
			batch = []*changelog.Txn{{Heartbeat: true, CommitTime: time.Unix(hb.SourceTime, 0).UTC(), Seq: hb.CapturedSeq}}
		case frameError:
			var e struct{ Code, Message, Advice string }
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("read stream from store %s: error frame: %w", r.addr, err)
			}
			return omserr.New(e.Code, e.Message, e.Advice)
		default:
			return fmt.Errorf("read stream from store %s: unknown frame type %d", r.addr, typ)
		}
		select {
		case r.batches <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// decodeRecords splits a frame body into records and decodes them.
func decodeRecords(dec *decoder, data []byte) ([]*changelog.Txn, error) {
	var out []*changelog.Txn
	for off := 0; off < len(data); {
		if len(data)-off < recordHeader {
			return nil, fmt.Errorf("%w: short record header", errCorrupt)
		}
		n := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		off += recordHeader
		if n > len(data)-off {
			return nil, fmt.Errorf("%w: record of %d bytes past frame end", errCorrupt, n)
		}
		p := data[off : off+n]
		if crc32.Checksum(p, castagnoli) != sum {
			return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
		}
		t, err := dec.decode(p)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		off += n
	}
	return out, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Next returns the next transaction in log order. When the stream is idle the Store sends
// heartbeats: a Txn with Heartbeat set, no GTID, CommitTime = the source time of the last event
// the Store captured (for lag) and Seq = the Store's last durable transaction. Next blocks until
// a transaction arrives, ctx ends, or the stream fails (an *omserr.Error; omserr.StorePositionPurged when the
// requested position is no longer kept).
func (r *Reader) Next(ctx context.Context) (*changelog.Txn, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return nil, r.err
		}
		select {
		case b, ok := <-r.batches:
			if !ok {
				r.err = r.g.Wait()
				if r.err == nil {
					r.err = omserr.New(omserr.StoreUnavailable, "store "+r.addr+" closed the read stream", "dial again from your checkpoint")
				}
				return nil, r.err
			}
			r.cur = b
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	t := r.cur[0]
	r.cur[0] = nil
	r.cur = r.cur[1:]
	return t, nil
}

// Ack tells the Store that the consumer has made everything in gtidSet durable, so retention may
// drop it. Call it after your own checkpoint is committed; calling it rarely (every few seconds)
// is enough.
func (r *Reader) Ack(ctx context.Context, gtidSet string) error {
	return Ack(ctx, r.tls, r.addr, r.consumer, gtidSet)
}

// Ack is Reader.Ack without an open stream (e.g. from a component that only checkpoints); src is
// the caller's cluster certificate (nil: plain HTTP).
func Ack(ctx context.Context, src clustertls.Source, addr, consumerID, gtidSet string) error {
	body, _ := json.Marshal(ackRequest{Consumer: consumerID, GTIDSet: gtidSet})
	return postJSON(ctx, src, addr, "/v1/ack", body)
}

// Unregister removes a consumer, so retention no longer waits for it.
func Unregister(ctx context.Context, src clustertls.Source, addr, consumerID string) error {
	body, _ := json.Marshal(ackRequest{Consumer: consumerID})
	return postJSON(ctx, src, addr, "/v1/unregister", body)
}

// controlClients are the clients of the control endpoints, one per source (connections and TLS
// sessions are reused between acks).
var controlClients sync.Map // clustertls.Source or plainKey{} -> *http.Client

type plainKey struct{}

func controlClient(src clustertls.Source) *http.Client {
	var key any = plainKey{}
	if src != nil {
		key = src
	}
	if c, ok := controlClients.Load(key); ok {
		return c.(*http.Client)
	}
	c, _ := controlClients.LoadOrStore(key, &http.Client{Timeout: 30 * time.Second, Transport: clustertls.Transport(src, &http.Transport{MaxIdleConnsPerHost: 2})})
	return c.(*http.Client)
}

type ackRequest struct {
	Consumer string `json:"consumer"`
	GTIDSet  string `json:"gtid_set"`
}

func postJSON(ctx context.Context, src clustertls.Source, addr, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, clustertls.Scheme(src)+"://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post %s to store %s: %w", path, addr, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := controlClient(src).Do(req)
	if err != nil {
		return omserr.Wrap(err, omserr.StoreUnavailable, "cannot reach the store at "+addr, "check that the store runs")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeHTTPError(resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// Close ends the stream and releases its connection.
func (r *Reader) Close() error {
	r.cancel()
	err := r.g.Wait()
	r.resp.Body.Close()
	r.client.CloseIdleConnections()
	if err != nil && !errors.Is(err, context.Canceled) && omserr.CodeOf(err) != omserr.StoreUnavailable {
		return err
	}
	return nil
}

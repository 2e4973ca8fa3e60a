package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Compression of the read stream (the compress query parameter, see docs/store.md).
//
// A live stream sends small frames (often one transaction): compressed one by one they keep
// ~43% of their bytes, while one zstd stream over the connection, flushed at every frame,
// keeps ~34%, because later frames refer to earlier ones (table schemas, GTIDs, repeated
// values); large catch-up frames compress alike either way (~31%). So a consumer that asks for
// "stream" gets one zstd stream per connection; the Store says so in a response header, and a
// Store that predates it compresses frame by frame, which the reader still decodes.
const (
	compressNone   = "0"      // no compression
	compressStream = "stream" // one zstd stream per connection, flushed per frame
	// compressHeader is the response header naming the stream compression in use.
	compressHeader       = "X-Oms-Compress"
	compressHeaderStream = "zstd-stream"
	// streamWindow is the zstd window of a stream: what later frames may refer back to, and
	// the memory each side holds per connection.
	streamWindow = 1 << 20
)

// frameEncoder compresses frame bodies on the Store's side.
type frameEncoder struct {
	frame  *zstd.Encoder // frame by frame (EncodeAll), nil in the other modes
	stream *zstd.Encoder // one stream, nil in the other modes
	out    bytes.Buffer
	body   []byte
}

func newFrameEncoder(mode string) (*frameEncoder, error) {
	e := &frameEncoder{}
	var err error
	switch mode {
	case compressNone:
	case compressStream:
		e.stream, err = zstd.NewWriter(&e.out, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(streamWindow))
	default:
		e.frame, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	}
	if err != nil {
		return nil, fmt.Errorf("start the stream's compression: %w", err)
	}
	return e, nil
}

// encode returns the body to send for a frame's data (valid until the next call).
func (e *frameEncoder) encode(data []byte) ([]byte, error) {
	switch {
	case len(data) == 0:
	case e.stream != nil:
		e.out.Reset()
		if _, err := e.stream.Write(data); err != nil {
			return nil, fmt.Errorf("compress frame: %w", err)
		}
		if err := e.stream.Flush(); err != nil {
			return nil, fmt.Errorf("compress frame: %w", err)
		}
		return e.out.Bytes(), nil
	case e.frame != nil && len(data) > 512:
		e.body = e.frame.EncodeAll(data, e.body[:0])
		if len(e.body) < len(data) {
			return e.body, nil
		}
	}
	return data, nil
}

func (e *frameEncoder) close() {
	if e.stream != nil {
		_ = e.stream.Close()
	}
	if e.frame != nil {
		_ = e.frame.Close()
	}
}

// frameDecoder decompresses frame bodies on the consumer's side.
type frameDecoder struct {
	frame  *zstd.Decoder // frame by frame: a body shorter than its raw length is compressed
	stream *zstd.Decoder // one stream fed with every body in order
	in     frameInput
	raw    []byte // decompressed data, reused
}

func newFrameDecoder(stream bool) (*frameDecoder, error) {
	d := &frameDecoder{}
	var err error
	if stream {
		d.stream, err = zstd.NewReader(&d.in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(streamWindow))
	} else {
		d.frame, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	}
	if err != nil {
		return nil, fmt.Errorf("start the stream's decompression: %w", err)
	}
	return d, nil
}

// decode returns the rawLen bytes of a frame's data (body itself when it is not compressed);
// the result is valid until the next call.
func (d *frameDecoder) decode(body []byte, rawLen int) ([]byte, error) {
	switch {
	case d.stream != nil:
		d.in.cur = body
		d.raw = grow(d.raw, rawLen)
		if _, err := readFull(d.stream, d.raw); err != nil {
			return nil, fmt.Errorf("bad compressed frame: %w", err)
		}
		if len(d.in.cur) != 0 {
			return nil, fmt.Errorf("bad compressed frame: %d bytes left over", len(d.in.cur))
		}
		return d.raw, nil
	case rawLen != len(body):
		var err error
		d.raw, err = d.frame.DecodeAll(body, d.raw[:0])
		if err != nil || len(d.raw) != rawLen {
			return nil, fmt.Errorf("bad compressed frame: %v", err)
		}
		return d.raw, nil
	}
	return body, nil
}

func (d *frameDecoder) close() {
	if d.stream != nil {
		d.stream.Close()
	}
	if d.frame != nil {
		d.frame.Close()
	}
}

// errFrameShort is what the stream decoder meets when it needs more than the current frame's
// body: the Store flushes the stream at every frame, so that is a corrupt stream.
var errFrameShort = errors.New("compressed frame ends early")

// frameInput feeds the stream decoder the current frame's body and no more.
type frameInput struct{ cur []byte }

func (f *frameInput) Read(p []byte) (int, error) {
	if len(f.cur) == 0 {
		return 0, errFrameShort
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

// readFull is io.ReadFull for the stream decoder.
func readFull(r *zstd.Decoder, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil && n < len(p) {
			return n, err
		}
		if m == 0 && err == nil {
			return n, errFrameShort
		}
	}
	return n, nil
}

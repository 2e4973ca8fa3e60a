package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestFrameCompression: every mode round-trips frames of every shape, a reader decodes what a
// Store that compresses frame by frame sends, and the stream mode, whose frames refer back to
// earlier ones, sends less than frame-by-frame compression for a live stream of small frames.
func TestFrameCompression(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(r.IntN(256))
	}
	// small frames alike in structure (one transaction each), then large and odd ones
	var frames [][]byte
	for i := 0; i < 300; i++ {
		frames = append(frames, []byte(fmt.Sprintf(`{"gtid":"0-1-%d","table":"sbtest.sbtest%d","columns":["id","k","c","pad"],"k":%d,"c":"%011d-%011d"}`,
			1000+i, i%8, r.IntN(1e6), r.IntN(1e9), r.IntN(1e9))))
	}
	frames = append(frames, nil, []byte("x"), bytes.Repeat([]byte("abc"), 1<<20), random, []byte(`{"source_time":1}`))
	sizes := map[string]int{}
	for _, mode := range []string{compressNone, compressStream, "1"} {
		enc, err := newFrameEncoder(mode)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := newFrameDecoder(mode == compressStream)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range frames {
			body, err := enc.encode(f)
			if err != nil {
				t.Fatalf("%s: encode frame %d: %v", mode, i, err)
			}
			if i < 300 {
				sizes[mode] += len(body)
			}
			body = append([]byte(nil), body...) // what crossed the wire
			got, err := dec.decode(body, len(f))
			if err != nil || !bytes.Equal(got, f) {
				t.Fatalf("%s: frame %d (%d bytes) decoded to %d bytes: %v", mode, i, len(f), len(got), err)
			}
		}
		enc.close()
		dec.close()
	}
	t.Logf("300 small frames: none %d, frame by frame %d, stream %d bytes", sizes[compressNone], sizes["1"], sizes[compressStream])
	if sizes[compressStream] >= sizes["1"]*3/4 {
		t.Fatalf("stream compression sent %d bytes for small frames, frame by frame %d: the stream keeps no context", sizes[compressStream], sizes["1"])
	}
}

// TestStreamDecoderRefusesShortFrame: a body that stops inside the stream is an error, never a
// wait for bytes that will not come.
func TestStreamDecoderRefusesShortFrame(t *testing.T) {
	enc, _ := newFrameEncoder(compressStream)
	defer enc.close()
	dec, _ := newFrameDecoder(true)
	defer dec.close()
	data := bytes.Repeat([]byte("hello world "), 1000)
	body, err := enc.encode(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec.decode(body[:len(body)/2], len(data)); err == nil {
		t.Fatal("a truncated frame decoded")
	}
}

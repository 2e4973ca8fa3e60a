// Package latency is a TCP proxy that adds a fixed delay in each direction: the inter-region
// "WAN" of the multi-region tests (test/netns), the Store stream tests and the cross-region
// benchmark (bench/latproxy). This kernel has no tc netem and toxiproxy is no Debian package.
package latency

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy is a TCP proxy that delays every chunk of data by Delay in each direction. Order is kept; a chunk is released Delay after it was read, so throughput is not
// limited by the delay (like a long fat pipe), only latency is added.
type Proxy struct {
	Delay  time.Duration
	Target string

	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	n      int
	healed chan struct{} // closed while data flows; open during a partition
}

// Partition stops the path like a network partition: nothing is delivered in either direction
// and new connections are held (not refused) until Heal; what was sent meanwhile arrives after
// it, as TCP retransmissions would deliver it.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.healed:
		p.healed = make(chan struct{})
	default: // already partitioned
	}
}

// Heal ends a partition.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.healed:
	default:
		close(p.healed)
	}
}

// open is closed while the path is not partitioned.
func (p *Proxy) open() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.healed
}

// Accepted is how many connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// chunkQueue bounds how many delayed chunks one direction holds (at 32 KiB each, 8 MiB in
// flight): enough for a WAN's bandwidth-delay product in tests, a limit against runaway memory.
const chunkQueue = 256

// Start listens on listen and forwards to target.
func Start(listen, target string, delay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("latency proxy listen %s: %w", listen, err)
	}
	p := &Proxy{Delay: delay, Target: target, ln: ln, conns: map[net.Conn]struct{}{}, healed: make(chan struct{})}
	close(p.healed)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops listening and closes every proxied connection.
func (p *Proxy) Close() error {
	p.Heal() // held connections and chunks go on, to be closed below
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	p.n++
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *Proxy) serve(client net.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	<-p.open() // a partition holds the connection attempt
	d := net.Dialer{Timeout: 5 * time.Second}
	server, err := d.DialContext(ctx, "tcp", p.Target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client) || !p.track(server) {
		client.Close()
		server.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(ctx, server, client) }()
	go func() { defer wg.Done(); p.pipe(ctx, client, server) }()
	wg.Wait()
	client.Close()
	server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, each chunk Delay late; when either side ends, both are closed.
func (p *Proxy) pipe(ctx context.Context, dst, src net.Conn) {
	q := make(chan chunk, chunkQueue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if w := time.Until(c.due); w > 0 {
				select {
				case <-time.After(w):
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-p.open():
			case <-ctx.Done():
				return
			}
			if _, err := dst.Write(c.data); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			select {
			case q <- chunk{data: data, due: time.Now().Add(p.Delay)}:
			case <-done:
			}
		}
		if err != nil {
			break // EOF, a reset or a closed connection all end this direction
		}
	}
	close(q)
	<-done
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		dst.Close()
	}
}

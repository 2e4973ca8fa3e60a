package latency

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// The proxy adds its delay in each direction: a request/response round trip takes >= 2*delay,
// and a bulk transfer is not slowed down by more than the delay itself.
func TestProxyAddsDelay(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	const delay = 30 * time.Millisecond
	p, err := Start("127.0.0.1:0", echo.Addr().String(), delay)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	var rtts []time.Duration
	for i := 0; i < 5; i++ {
		start := time.Now()
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		rtts = append(rtts, time.Since(start))
	}
	for _, d := range rtts {
		if d < 2*delay {
			t.Fatalf("round trip %v shorter than 2 x %v", d, delay)
		}
	}
	t.Logf("round trips through the proxy: %v", rtts)

	// 4 MiB streamed both ways: the delay is paid once, not per chunk.
	payload := make([]byte, 4<<20)
	start := time.Now()
	go c.Write(payload)
	got := 0
	buf := make([]byte, 64<<10)
	for got < len(payload) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("4 MiB took %v through a %v proxy", el, delay)
	} else {
		t.Logf("4 MiB echoed in %v", el)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// A partition delivers nothing in either direction and holds new connections; after Heal what
// was sent arrives.
func TestProxyPartition(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); buf := make([]byte, 1024); n, _ := c.Read(buf); c.Write(buf[:n]) }()
		}
	}()
	p, err := Start("127.0.0.1:0", echo.Addr().String(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Partition()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping\n"))
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 16)
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("read %q through a partition", buf[:n])
	}
	p.Heal()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ping\n" {
		t.Fatalf("after heal: %q %v", buf[:n], err)
	}
}

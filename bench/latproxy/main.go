// Command latproxy is the cross-region link of the benchmarks: a TCP proxy that adds a fixed
// delay in each direction (internal/testenv/latency), so a round trip through it takes RTT more.
//
//	latproxy -listen 127.0.0.2:0 -target 127.0.0.1:3306 -rtt 50ms [-addr-file FILE]
//
// It prints (and writes to -addr-file) the address it listens on and runs until SIGINT/SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/omsdev/oms/internal/testenv/latency"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	target := flag.String("target", "", "address to forward to (host:port)")
	rtt := flag.Duration("rtt", 50*time.Millisecond, "round trip time added (half in each direction)")
	addrFile := flag.String("addr-file", "", "file to write the bound address to")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "latproxy: -target is required")
		os.Exit(2)
	}
	p, err := latency.Start(*listen, *target, *rtt/2)
	if err != nil {
		fmt.Fprintln(os.Stderr, "latproxy:", err)
		os.Exit(1)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(p.Addr()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "latproxy:", err)
			os.Exit(1)
		}
	}
	fmt.Println(p.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = p.Close()
}

// Command tlsgen writes cluster certificates for the benchmarks' hand-written component specs
// (OMS_BENCH_TLS=1): one throw-away CA (internal/clustertls, in memory) and, per argument
// KIND:NAME (node:127.0.0.1, task:bench), DIR/KIND-NAME/{cert,key,ca}.pem valid for 127.0.0.1.
//
//	go run ./bench/tlsgen DIR node:127.0.0.1 task:bench
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/omsdev/oms/internal/clusterca"
	"github.com/omsdev/oms/internal/clustertls"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: tlsgen DIR KIND:NAME...")
		os.Exit(2)
	}
	a, err := clusterca.NewAuthority()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, arg := range os.Args[2:] {
		kind, name, ok := strings.Cut(arg, ":")
		if !ok || (kind != clustertls.KindNode && kind != clustertls.KindTask) {
			fmt.Fprintln(os.Stderr, "bad identity", arg, "(want node:IP or task:ID)")
			os.Exit(2)
		}
		leaf, err := a.Issue(clustertls.Identity{Kind: kind, Name: name}, []string{"127.0.0.1"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		dir := filepath.Join(os.Args[1], kind+"-"+name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := clustertls.FilesIn(dir).Write(leaf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

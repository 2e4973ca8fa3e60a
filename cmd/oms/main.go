// Command oms is the one binary of oms: the deployment tool, the per-host node (console, CM,
// supervisor) and the data components the supervisor runs as child processes.
package main

import (
	"os"

	"github.com/omsdev/oms/internal/cli"
)

func main() { os.Exit(cli.Execute(os.Args[1:])) }

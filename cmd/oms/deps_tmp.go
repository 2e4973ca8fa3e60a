package main

import (
	_ "github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"
	_ "gopkg.in/yaml.v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/sync/errgroup"
	_ "github.com/spf13/cobra"
	_ "github.com/klauspost/compress/zstd"
)
func main() {}

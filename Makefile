# oms — see README.md. `make demo` runs the main job, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/omsdev/oms/internal/buildinfo.Version=$(VERSION) -X github.com/omsdev/oms/internal/buildinfo.Commit=$(COMMIT)
TEST_TIMEOUT ?= 25m

.PHONY: build dist deps test test-short demo vet fmt bench clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/oms ./cmd/oms

# dist builds the installation package oms-<version>-linux-amd64.tar.gz (binary, the seed's
# sample configs, the systemd unit, docs, the Prometheus alert rules and Grafana dashboard):
# `oms deploy -d PACKAGE` installs from it.
PKG := oms-$(VERSION)-linux-amd64
dist: build
	rm -rf dist/$(PKG) && mkdir -p dist/$(PKG)/bin dist/$(PKG)/conf dist/$(PKG)/docs dist/$(PKG)/monitoring
	cp bin/oms dist/$(PKG)/bin/oms
	cp internal/config/testdata/seed-hangzhou.yaml internal/config/testdata/seed-heilongjiang.yaml dist/$(PKG)/conf/
	./bin/oms deploy unit -o /opt/oms -i NODE_IP > dist/$(PKG)/conf/oms-node.service
	cp README.md dist/$(PKG)/ && cp docs/deploy.md docs/config.md dist/$(PKG)/docs/
	cp deploy/prometheus/oms-rules.yml deploy/grafana/oms-dashboard.json dist/$(PKG)/monitoring/
	tar -C dist -czf dist/$(PKG).tar.gz $(PKG)
	@echo "built dist/$(PKG).tar.gz"

# deps installs what the tests and the demo need on a fresh Debian machine (as root).
deps:
	@./scripts/install-deps.sh

# test installs everything the tests use (MariaDB, and for the deployment scenarios sshd, haproxy
# and influxd) and runs them strictly: a test that would skip for a missing dependency fails.
test:
	OMS_DEPLOY_DEPS=1 ./scripts/install-deps.sh
	$(GO) vet ./...
	OMS_TEST_STRICT=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-short:
	$(GO) test -count=1 -short ./...

demo: deps build
	./scripts/demo.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist

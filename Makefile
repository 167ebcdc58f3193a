# faxd: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
export CGO_ENABLED ?= 0

# Debian/Ubuntu packages the server and the test suite use. The server itself
# needs only postgresql (for the embedded default) and ghostscript (PDF/PS).
RUN_PACKAGES  := postgresql ghostscript util-linux
TEST_PACKAGES := $(RUN_PACKAGES) libtiff-tools libtiff-dev libspandsp-dev poppler-utils sip-tester gcc make systemd tzdata ca-certificates chromium patroni etcd-server libreoffice-core-nogui libreoffice-writer-nogui libreoffice-calc-nogui
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

BIN := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/faxd/faxd/internal/buildinfo.Version=$(VERSION)

.PHONY: all build run demo test bench loss lint deps-run deps-test go-deps fuzz clean install-systemd package image drill drill-standby

all: build

# install-missing installs the named Debian packages that are not installed yet.
define install-missing
	missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi; \
	command -v $(GO) >/dev/null || { DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq golang-go ca-certificates; }
endef

deps-run:
	@$(call install-missing,$(RUN_PACKAGES))

deps-test:
	@$(call install-missing,$(TEST_PACKAGES))

go-deps:
	$(GO) mod download

build: go-deps
	mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# The server on its embedded defaults: a private PostgreSQL under ./var/pg,
# NATS in-process under ./var/nats, and a demo gateway that points at itself.
run: deps-run build
	$(BIN)/faxd -config deploy/faxd.dev.yaml

# With `make run` up in another terminal: send a sample letter to the
# "self" gateway and fetch what came back in (var/demo/).
demo: build
	deploy/demo.sh

# The whole suite. Real PostgreSQL, NATS, Ghostscript, libtiff and spandsp.
test: deps-test go-deps lint
	CGO_ENABLED=1 $(GO) test -json -count=1 -timeout 25m ./... | $(GO) run ./internal/testsummary $(if $(CI),-no-skips)
	CGO_ENABLED=0 $(GO) build ./cmd/...
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

# Every Fuzz target in the tree, briefly (a longer FUZZTIME for real hunting).
# A failing input the fuzzer finds is saved under the package's
# testdata/fuzz/ and fails the run. A failure that saved none is the fuzzing
# engine itself (a worker that died on a loaded machine): its output is shown
# and the target runs once more. When that run also ends only with the
# engine's "context deadline exceeded" (the fuzz time ran out while it was
# minimising a new input) and still no failing input was saved, the code
# did not fail and the run goes on; anything else fails it.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f"; \
			dir=$$($(GO) list -f '{{.Dir}}' $$pkg)/testdata/fuzz/$$f; \
			before=$$( (ls $$dir 2>/dev/null || true) | wc -l); \
			if ! out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); then \
				echo "$$out" | tail -40; \
				if [ "$$( (ls $$dir 2>/dev/null || true) | wc -l)" != "$$before" ]; then \
					echo "$$f found a failing input, saved in $$dir"; exit 1; \
				fi; \
				echo "$$f: the fuzzing engine failed without a failing input; running it once more"; \
				if ! out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); then \
					echo "$$out" | tail -20; \
					if [ "$$( (ls $$dir 2>/dev/null || true) | wc -l)" != "$$before" ]; then \
						echo "$$f found a failing input, saved in $$dir"; exit 1; \
					fi; \
					if ! echo "$$out" | grep -q 'context deadline exceeded'; then exit 1; fi; \
					echo "$$f: the engine again stopped at its deadline while minimising a new input; no failing input was found or saved"; \
				fi; \
			fi; \
		done; \
	done

bench: deps-test go-deps
	CGO_ENABLED=1 $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# The full lossy-channel statistic: 1000 seeded calls per point, faxd and
# spandsp on the same loss patterns (about 20 minutes; CI runs 50 seeds of
# one point). The table is written to var/loss.md.
loss: deps-test go-deps
	mkdir -p var
	FAXD_T38_LOSS_SEEDS=1000 FAXD_T38_LOSS_TABLE=$(CURDIR)/var/loss.md CGO_ENABLED=1 \
		$(GO) test -count=1 -timeout 90m -run TestLossCompare -v ./t38/interop

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# One server under systemd (docs/deploy.md): the binary, the faxd user,
# the unit, and /etc/faxd/faxd.yaml and faxd.env unless they exist. It
# does not start anything: edit /etc/faxd/faxd.yaml first, then
# `systemctl enable --now faxd`.
install-systemd: deps-run build
	$(SUDO) install -m 0755 $(BIN)/faxd $(BIN)/faxctl /usr/bin/
	$(SUDO) install -m 0644 deploy/systemd/faxd.sysusers /usr/lib/sysusers.d/faxd.conf
	$(SUDO) systemd-sysusers /usr/lib/sysusers.d/faxd.conf
	$(SUDO) install -m 0644 deploy/systemd/faxd.service /etc/systemd/system/faxd.service
	$(SUDO) install -d -m 0750 -o root -g faxd /etc/faxd
	[ -e /etc/faxd/faxd.yaml ] || $(SUDO) install -m 0640 -o root -g faxd deploy/systemd/faxd.yaml /etc/faxd/faxd.yaml
	[ -e /etc/faxd/faxd.env ] || $(SUDO) install -m 0640 -o root -g faxd deploy/systemd/faxd.env.example /etc/faxd/faxd.env
	$(SUDO) systemctl daemon-reload

# dist/faxd_<version>_<arch>.deb and dist/faxd-<version>.<arch>.rpm: the
# static binaries, the systemd unit, /etc/faxd/faxd.yaml and faxd.env
# (kept on upgrade), the faxd user made at install (docs/deploy.md).
package: build
	$(GO) run ./internal/tools/pkgbuild -bin $(BIN) -version $(VERSION) -out dist

# The OCI image, without a container daemon: var/image/oci (an OCI layout)
# and var/image/faxd.tar (docker load / podman load), from the static
# binaries and this Debian machine's Ghostscript (docs/deploy.md).
image: deps-run build
	$(GO) run ./internal/tools/imagebuild -bin $(BIN) -version $(VERSION) \
		-revision $$(git rev-parse HEAD 2>/dev/null || echo unknown) -out var/image

# The two-site drill (docs/deploy.md): etcd, Patroni, PostgreSQL, a NATS
# cluster and faxd on loopback; site A killed mid-fax, then the fail-back.
# DRILL=full for the long form; the short one also runs in `make test`.
drill: deps-test go-deps
	deploy/two-site/drill.sh

# The same drill with faxd on B as fax-a1's standby (active/standby across
# the sites): B takes no call until A is lost, promotes, and steps down
# when A is back. Its own target: with the fail-back it runs longer than
# the CI form should.
drill-standby: deps-test go-deps
	DRILL=standby deploy/two-site/drill.sh

clean:
	rm -rf $(BIN) dist

#!/usr/bin/env bash
# The two-site drill: builds faxd from this tree, then runs the drill
# program (deploy/two-site/cmd/drill). DRILL=full for the full form;
# extra arguments go to the program (-keep keeps logs and data).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/faxd ./cmd/faxd
# nats-server from the module go.mod pins (Debian 12's 2.9 did not always
# move a stream's leader off the lost site).
CGO_ENABLED=0 go build -trimpath -o bin/nats-server github.com/nats-io/nats-server/v2
CGO_ENABLED=0 go build -trimpath -o bin/drill ./deploy/two-site/cmd/drill
exec bin/drill -faxd bin/faxd -nats-server bin/nats-server "$@"

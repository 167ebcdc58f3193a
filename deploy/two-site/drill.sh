#!/usr/bin/env bash
# The two-site drill: builds faxd from this tree, then runs the drill
# program (deploy/two-site/cmd/drill). DRILL=full for the full form;
# extra arguments go to the program (-keep keeps logs and data).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/faxd ./cmd/faxd
CGO_ENABLED=0 go build -trimpath -o bin/drill ./deploy/two-site/cmd/drill
exec bin/drill -faxd bin/faxd "$@"

#!/usr/bin/env bash
# The demo path of `make run`: with faxd running on deploy/faxd.dev.yaml
# (another terminal), send a sample letter through the "self" gateway,
# wait until it is sent, and fetch what came back in on the inbound side.
# Everything it fetches lands in var/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=deploy/faxd.dev.yaml
doc=${1:-testdata/documents/letter.txt}
to=${2:-+15550199}

if ! bin/faxctl health >/dev/null 2>&1; then
	echo "faxd is not answering on 127.0.0.1:8080: start it with 'make run' in another terminal" >&2
	exit 1
fi
FAXD_TOKEN=$(FAXD_LOG_LEVEL=warn bin/faxd -config "$cfg" token create --role admin --name "demo-$(date +%s)")
export FAXD_TOKEN

before=$(bin/faxctl inbound list -limit 1 | awk 'NR==2 {print $1}')
out=$(bin/faxctl send "$doc" -to "$to" -header "faxd demo")
echo "$out"
id=$(echo "$out" | awk '{print $2}')

# wait prints the final state; it exits 0 only when the fax was sent.
if ! bin/faxctl wait "$id" -timeout 120s; then
	bin/faxctl status "$id"
	echo "fax $id was not sent" >&2
	exit 1
fi
bin/faxctl status "$id"

mkdir -p var/demo
bin/faxctl download "$id" -format tiff -o "var/demo/sent-$id.tif"
bin/faxctl download "$id" -o "var/demo/sent-$id.pdf"
rid=""
for _ in $(seq 1 30); do
	rid=$(bin/faxctl inbound list -limit 1 | awk 'NR==2 {print $1}')
	[ -n "$rid" ] && [ "$rid" != "$before" ] && break
	sleep 1
done
[ -n "$rid" ] && [ "$rid" != "$before" ] || { echo "the fax did not come back in" >&2; exit 1; }
bin/faxctl inbound show "$rid"
bin/faxctl inbound download "$rid" -format tiff -o "var/demo/received-$rid.tif"
bin/faxctl inbound download "$rid" -format pdf -o "var/demo/received-$rid.pdf"
echo "demo done: fax $id went out and came back in as received fax $rid (files in var/demo/)"

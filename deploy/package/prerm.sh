#!/bin/sh
# faxd package: before removal (deb: "remove"; rpm: $1 is 0). Stops and
# disables the service, which drains the calls in progress first. An
# upgrade (deb "upgrade", rpm $1 = 1) does nothing here: the new
# package's postinst restarts faxd.
set -e
case "${1:-}" in
remove | 0)
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl disable --now faxd.service || true
	fi
	;;
esac
exit 0

#!/bin/sh
# faxd package: after removal. Reloads systemd so the unit is gone. The
# faxd user and /var/lib/faxd (the embedded database, the JetStream store
# and the secrets key) are kept, even on purge: they hold faxes. Remove
# them by hand when they are really no longer needed.
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0

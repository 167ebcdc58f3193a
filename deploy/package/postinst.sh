#!/bin/sh
# faxd package: after the files are unpacked (deb: "configure"; rpm: $1 is
# 1 on install, 2 on upgrade). Creates the faxd system user and the state
# directory, gives the faxd group read access to /etc/faxd (the secrets in
# faxd.env stay unreadable to others), and restarts a running faxd on an
# upgrade: faxd drains its calls when stopped, so none is cut. A fresh
# install starts nothing: edit /etc/faxd/faxd.yaml, then
# `systemctl enable --now faxd`.
#
# DPKG_ROOT (set by dpkg --root with --force-script-chrootless) installs
# into another root directory; then no service is touched.
set -e

case "${1:-}" in
abort-*) exit 0 ;;
esac
root="${DPKG_ROOT:-}"

# In another root the user database is that root's, not this machine's:
# getent and chown by name would look in the wrong one.
has_user() {
	if [ -n "$root" ]; then
		grep -q '^faxd:' "$root/etc/passwd" 2>/dev/null
	else
		getent passwd faxd >/dev/null 2>&1
	fi
}

if ! has_user; then
	# One definition of the user: the sysusers.d file the package ships.
	if command -v systemd-sysusers >/dev/null 2>&1; then
		if [ -n "$root" ]; then
			# Given as a path, the file would be read from this machine.
			systemd-sysusers --root "$root" - <"$root/usr/lib/sysusers.d/faxd.conf"
		else
			systemd-sysusers /usr/lib/sysusers.d/faxd.conf
		fi
	else
		set -- --system --user-group --home-dir /var/lib/faxd --no-create-home \
			--shell /usr/sbin/nologin --comment "faxd fax server" faxd
		if [ -n "$root" ]; then
			useradd --root "$root" "$@"
		else
			useradd "$@"
		fi
	fi
fi

owner=faxd:faxd group=faxd
if [ -n "$root" ]; then
	uid=$(awk -F: '$1 == "faxd" { print $3; exit }' "$root/etc/passwd")
	gid=$(awk -F: '$1 == "faxd" { print $3; exit }' "$root/etc/group")
	if [ -z "$uid" ] || [ -z "$gid" ]; then
		echo "faxd postinst: no faxd user and group in $root/etc/passwd and $root/etc/group" >&2
		exit 1
	fi
	owner="$uid:$gid" group="$gid"
fi

# The state directory: embedded PostgreSQL, JetStream store, secrets key.
# Only the top directory: an upgrade never walks through the data.
mkdir -p "$root/var/lib/faxd"
chown "$owner" "$root/var/lib/faxd"
chmod 0750 "$root/var/lib/faxd"

# Configuration: root may write, faxd may read, nobody else sees it.
for f in "$root/etc/faxd" "$root/etc/faxd/faxd.yaml" "$root/etc/faxd/faxd.env"; do
	[ -e "$f" ] && chgrp "$group" "$f"
done
chmod 0750 "$root/etc/faxd"
for f in "$root/etc/faxd/faxd.yaml" "$root/etc/faxd/faxd.env"; do
	[ -e "$f" ] && chmod 0640 "$f"
done

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	# Running before the upgrade: restart on the new binary (deb passes
	# the old version as $2, rpm passes 2).
	if [ -n "${2:-}" ] || [ "${1:-}" = 2 ]; then
		systemctl try-restart faxd.service || true
	fi
fi
exit 0

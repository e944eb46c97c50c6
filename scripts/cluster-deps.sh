#!/usr/bin/env bash
# Installs the Debian packages `make load-cluster` runs, when they are missing:
# HAProxy (the reverse proxy in front of the two gunicorn instances) and PgBouncer
# (transaction pooling in front of PostgreSQL). Needs root (apt-get); without it, says what is missing
# and fails, since the cluster can't start without them.
set -euo pipefail
missing=()
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "cluster-deps: missing ${missing[*]} (run as root or apt-get install -y ${missing[*]})." >&2
  exit 1
fi
echo "cluster-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# --no-install-recommends, and the packaged services are not started: load-cluster runs its own
# instances on free loopback ports with configuration generated into a temporary directory.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.cluster-deps
if [ ! -e /usr/sbin/policy-rc.d ]; then
  mv /usr/sbin/policy-rc.d.cluster-deps /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
else
  rm -f /usr/sbin/policy-rc.d.cluster-deps
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

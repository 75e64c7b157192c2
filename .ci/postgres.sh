#!/usr/bin/env bash
# Makes a PostgreSQL server reachable on 127.0.0.1:5432 with trust auth for
# the postgres user: uses the running one, starts an installed cluster, or
# installs Debian's package and starts it.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null && ready; then
  echo "PostgreSQL is running on 127.0.0.1:5432"
  exit 0
fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
conf=/etc/postgresql/$version/main
# Loopback connections of the postgres user are trusted, as on the
# development machines.
if ! grep -q "recur-ci" "$conf/pg_hba.conf"; then
  sed -i '1i host all all 127.0.0.1/32 trust # recur-ci\nhost all all ::1/128 trust # recur-ci' "$conf/pg_hba.conf"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 60); do
  if ready; then echo "PostgreSQL $version started"; exit 0; fi
  sleep 0.5
done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1

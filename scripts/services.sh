#!/usr/bin/env bash
# Makes sure the services the tests talk to are up: PostgreSQL (127.0.0.1:5432) and NATS with
# JetStream (127.0.0.1:4222). Starts an installed-but-stopped service; installs a missing one.
set -euo pipefail
say() { printf '\033[1mservices:\033[0m %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done; return 1; }
export DEBIAN_FRONTEND=noninteractive

if port_open 5432; then
  say "PostgreSQL is up"
else
  if ! ls /etc/postgresql >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    say "installing PostgreSQL"
    apt-get install -y postgresql >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y postgresql >/dev/null; }
    ver=$(ls /etc/postgresql | head -1)
    # Local tests use trust auth on loopback, as on the project's machines.
    sed -i 's/^\(host.*127.0.0.1\/32\s*\)\S*$/\1trust/; s/^\(local\s*all\s*all\s*\)\S*$/\1trust/; s/^\(local\s*all\s*postgres\s*\)\S*$/\1trust/' "/etc/postgresql/$ver/main/pg_hba.conf"
  fi
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_port 5432 || { say "PostgreSQL did not come up"; exit 1; }
fi

if port_open 4222; then
  say "NATS is up"
else
  if [ ! -x /usr/sbin/nats-server ]; then
    say "installing nats-server"
    apt-get install -y nats-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y nats-server >/dev/null; }
  fi
  say "starting NATS with JetStream"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 4222 || { say "NATS did not come up"; exit 1; }
fi

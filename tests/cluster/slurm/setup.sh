#!/usr/bin/env bash
# Install and start a one-node SLURM cluster with accounting on this machine,
# for tests/cluster/test_slurm.py (CI calls it before pytest; developers can too).
#
#   sudo tests/cluster/slurm/setup.sh        # idempotent: a running cluster is left alone
#
# Debian's slurm-wlm, slurmdbd, mariadb-server and munge; daemons run as root in
# the background (no systemd needed, so it works in containers). The Snakemake
# SLURM executor reads job states from sacct, hence slurmdbd and MariaDB.
# Afterwards: partition "ci" (the node's CPUs, memory a little below the
# machine's), account "deeppc" for the calling user.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PARTITION="${DEEPPC_SLURM_PARTITION:-ci}"
ACCOUNT="${DEEPPC_SLURM_ACCOUNT:-deeppc}"
CLUSTER=deeppc-ci
DBPASS=deeppc-ci-accounting  # local socket only; this cluster exists for tests
HOST="$(hostname -s)"
USER_NAME="$(id -un)"
LOGDIR=/var/log/slurm

say() { echo "slurm-setup: $*"; }
die() { echo "slurm-setup: error: $*" >&2; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
wait_for() {
    local seconds="$1" what="$2"
    shift 2
    for _ in $(seq "$seconds"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    die "$what did not come up within ${seconds}s (logs in $LOGDIR)"
}

running() {  # running PIDFILE: the daemon of that pid file is alive
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

[[ "$(id -u)" == 0 ]] || die "run as root (it installs packages and starts daemons)"

# ---------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null \
   || ! command -v mariadbd >/dev/null || ! command -v munged >/dev/null || ! command -v sacct >/dev/null; then
    say "installing slurm-wlm slurmdbd mariadb-server munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm slurmdbd mariadb-server munge >/dev/null
fi
mkdir -p "$LOGDIR" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /etc/slurm

# ------------------------------------------------------------------- munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    [[ -s /etc/munge/munge.key ]] || { mungekey --create --keyfile /etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; }
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
    runuser -u munge -- /usr/sbin/munged
    wait_for 20 munged sh -c 'munge -n | unmunge'
fi

# ----------------------------------------------------------------- MariaDB
if ! mysqladmin ping >/dev/null 2>&1; then
    say "starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    nohup /usr/sbin/mariadbd --user=mysql >"$LOGDIR/mariadb.log" 2>&1 &
    wait_for 60 MariaDB mysqladmin ping
fi
mysql -u root <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL

# ----------------------------------------------------------------- configs
# The node line is what slurmd detects (CPUs, sockets, cores) with memory kept
# 1 GiB below the machine's, so a job's --mem never exceeds what is there.
node_line="$(slurmd -C | head -n1)"
memory="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")"
node_line="$(sed "s/RealMemory=[0-9]*/RealMemory=$((memory - 1024))/" <<<"$node_line")"
render() {  # render TEMPLATE DEST MODE
    local tmp
    tmp="$(mktemp)"
    sed -e "s|@HOST@|$HOST|g" -e "s|@HOSTNAME@|$HOST|g" -e "s|@NODE@|${node_line#NodeName=}|g" \
        -e "s|@PARTITION@|$PARTITION|g" -e "s|@DBPASS@|$DBPASS|g" "$1" >"$tmp"
    chmod "$3" "$tmp"
    if cmp -s "$tmp" "$2"; then rm -f "$tmp"; return 1; fi
    mv "$tmp" "$2"
}
changed=0
render "$HERE/slurm.conf" /etc/slurm/slurm.conf 644 && changed=1
render "$HERE/slurmdbd.conf" /etc/slurm/slurmdbd.conf 600 && changed=1

if [[ $changed == 1 ]]; then  # a new configuration: restart whatever runs with the old one
    for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid; do
        if running "$pidfile"; then kill "$(cat "$pidfile")"; fi
    done
    sleep 2
fi

# ---------------------------------------------------------------- slurmdbd
if ! running /run/slurmdbd.pid; then
    say "starting slurmdbd"
    slurmdbd
    wait_for 60 slurmdbd sacctmgr -n list cluster
fi
if [[ -z "$(sacctmgr -n -P list cluster "$CLUSTER" format=cluster)" ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
fi
if [[ -z "$(sacctmgr -n -P list account "$ACCOUNT" format=account)" ]]; then
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="deeppc tests" organization=deeppc >/dev/null
fi
# an association user x account (root already exists, in account root)
if [[ -z "$(sacctmgr -n -P list assoc user="$USER_NAME" account="$ACCOUNT" format=account)" ]]; then
    sacctmgr -i add user "$USER_NAME" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
fi

# ------------------------------------------------------- slurmctld, slurmd
if ! running /run/slurmctld.pid; then
    say "starting slurmctld"
    slurmctld
    wait_for 60 slurmctld scontrol ping
fi
if ! running /run/slurmd.pid; then
    say "starting slurmd"
    slurmd
fi
node_ready() {
    local state
    state="$(sinfo -h -n "$HOST" -o %T)"
    case "$state" in
        idle* | mixed* | allocated*) return 0 ;;
        down* | drain*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1; return 1 ;;
        *) return 1 ;;
    esac
}
wait_for 60 "node $HOST" node_ready
say "ready: partition $PARTITION on $HOST ($(sinfo -h -n "$HOST" -o '%c CPUs, %m MB')), account $ACCOUNT"

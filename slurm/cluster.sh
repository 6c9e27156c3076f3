#!/usr/bin/env bash
# cluster.sh — a real Slurm cluster on this one machine, for tests and for trying batch scripts:
# munge, slurmctld and N fake slurmd nodes from Debian's packages (scripts/install-deps.sh), all
# state in one folder, everything on loopback, no systemd. Needs root. See docs/slurm.md.
#
#   slurm/cluster.sh start  [--nodes N] [--dir DIR] [--timeout S]
#   slurm/cluster.sh stop   [--dir DIR]
#   slurm/cluster.sh status [--dir DIR]
#
# `start` prints (on stdout) the folder and the line clients need, so this works:
#   eval "$(slurm/cluster.sh start)"     # sets SLURM_CONF
# Without --dir, stop and status use the folder of $SLURM_CONF, else the last one started
# without --dir.
#
# Several MPI ranks per fake node: each slurmd runs in its own UTS and mount namespace
# (unshare) with hostname nK and an /etc/hosts that maps n1..nN to 127.0.0.1, so jobs on
# different fake nodes see different hostnames, as on a real cluster, and Open MPI's
# shared-memory segments do not collide. Batch scripts need nothing special. When unshare is
# not allowed, the nodes share the machine's hostname and the task prolog sets
# OMPI_MCA_btl=self,tcp instead (start says so).
set -euo pipefail

MARKER=strata-slurm-cluster
LAST=/tmp/strata-slurm-cluster.last

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }
usage() { sed -n '6,8p' "$0" | sed 's/^# *//' >&2; exit 2; }

# alive PID NAME: the process exists, is called NAME and is not a zombie. PID 1 here reaps
# late, so kill -0 would call a finished daemon alive: read /proc/PID/stat instead.
alive() {
  local pid=$1 name=$2 stat comm st
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  comm=${stat#*(}; comm=${comm%)*}
  st=${stat##*) }; st=${st%% *}
  [ "$comm" = "$name" ] && [ "$st" != Z ] && [ "$st" != X ]
}
elapsed() { local ms=$((($(date +%s%N) - $1) / 1000000)); printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)); }
pidof_file() { cat "$1" 2>/dev/null | head -n1 | tr -d ' \n' || true; }

# The daemons of a cluster folder, one "NAME PIDFILE" a line.
daemons() {
  local dir=$1 k
  # shellcheck disable=SC1090
  . "$dir/cluster.env"
  for k in $(seq 1 "$NODES"); do echo "slurmd $dir/run/slurmd-n$k.pid"; done
  echo "slurmctld $dir/run/slurmctld.pid"
  echo "munged $dir/munge/munged.pid"
}

show_logs() {
  local dir=$1 f
  for f in "$dir"/log/*.log "$dir"/munge/munged.log; do
    [ -s "$f" ] || continue
    echo "---- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
}

# The listening TCP ports of this machine.
listening() {
  local f laddr st rest
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _ laddr _ st rest; do
      [ "$st" = 0A ] && echo $((16#${laddr##*:}))
    done < <(tail -n +2 "$f")
  done | sort -un
}
free_base() {  # free_base COUNT: a port P with P..P+COUNT-1 all free
  local count=$1 p q used ok
  used=" $(listening | tr '\n' ' ') "
  for ((p = 6817; p < 7800; p += count)); do
    ok=1
    for ((q = p; q < p + count; q++)); do [[ $used == *" $q "* ]] && { ok=0; break; }; done
    [ $ok = 1 ] && { echo "$p"; return 0; }
  done
  return 1
}

resolve_dir() {  # resolve_dir [DIR]: the cluster folder to act on
  local d=${1:-}
  if [ -z "$d" ] && [ -n "${SLURM_CONF:-}" ] && [ -f "$(dirname "$SLURM_CONF")/cluster.env" ]; then
    d=$(dirname "$SLURM_CONF")
  fi
  if [ -z "$d" ] && [ -f "$LAST" ]; then d=$(cat "$LAST"); fi
  [ -n "$d" ] || die "no cluster folder: pass --dir DIR (start printed it) or set SLURM_CONF"
  echo "$d"
}

is_cluster_dir() { [ -f "$1/cluster.env" ] && grep -q "^MARKER=$MARKER\$" "$1/cluster.env"; }

# ---------------------------------------------------------------------------------------------
stop_daemons() {  # SIGTERM each daemon of DIR by its PID file, wait, SIGKILL what is left
  local dir=$1 name pidfile pid t left
  while read -r name pidfile; do
    pid=$(pidof_file "$pidfile")
    alive "$pid" "$name" || continue
    kill -TERM "$pid" 2>/dev/null || true
    for ((t = 0; t < 100; t++)); do alive "$pid" "$name" || break; sleep 0.1; done
    if alive "$pid" "$name"; then
      say "$name (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  done < <(daemons "$dir")
  left=0
  while read -r name pidfile; do
    pid=$(pidof_file "$pidfile")
    if alive "$pid" "$name"; then say "$name (pid $pid) is still running"; left=1; fi
  done < <(daemons "$dir")
  return $left
}

cmd_stop() {
  local dir t ids
  dir=$(resolve_dir "${DIR:-}")
  [ -d "$dir" ] || die "$dir: no such folder"
  is_cluster_dir "$dir" || die "$dir is not a folder made by slurm/cluster.sh start"
  # shellcheck disable=SC1090
  . "$dir/cluster.env"
  export SLURM_CONF=$dir/slurm.conf
  if alive "$(pidof_file "$dir/run/slurmctld.pid")" slurmctld; then
    ids=$(timeout 10 squeue -h -o %A 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      timeout 10 scancel $ids 2>/dev/null || true
      for ((t = 0; t < 300; t++)); do
        ids=$(timeout 10 squeue -h -o %A 2>/dev/null || true)
        [ -z "$ids" ] && break
        sleep 0.1
      done
      [ -z "$ids" ] || say "jobs still in the queue after 30 s: ${ids//$'\n'/ }"
    fi
  fi
  if ! stop_daemons "$dir"; then
    die "some daemons did not stop; folder $dir kept"
  fi
  rm -rf -- "$dir"
  if [ -f "$LAST" ] && [ "$(cat "$LAST")" = "$dir" ]; then rm -f "$LAST"; fi
  say "stopped; removed $dir"
}

cmd_status() {
  local dir name pidfile pid rc=0
  dir=$(resolve_dir "${DIR:-}")
  is_cluster_dir "$dir" || die "$dir is not a folder made by slurm/cluster.sh start"
  # shellcheck disable=SC1090
  . "$dir/cluster.env"
  echo "folder $dir ($NODES nodes, slurmctld port $CTLD_PORT, hostnames: $HOSTNAMES)"
  while read -r name pidfile; do
    pid=$(pidof_file "$pidfile")
    if alive "$pid" "$name"; then echo "  $name pid $pid running"
    else echo "  $name ${pid:+pid $pid }not running"; rc=1; fi
  done < <(daemons "$dir")
  if [ $rc = 0 ]; then
    SLURM_CONF=$dir/slurm.conf sinfo -N -o '%N %T %C' || rc=1
    SLURM_CONF=$dir/slurm.conf squeue || rc=1
  fi
  echo "export SLURM_CONF=$dir/slurm.conf"
  return $rc
}

# ---------------------------------------------------------------------------------------------
write_conf() {
  local dir=$1 n=$2 ctld_port=$3 node_port=$4 nodehost
  if [ "$HOSTNAMES" = per-node ]; then nodehost='n[1-'$n']'; else nodehost=localhost; fi
  cat > "$dir/slurm.conf" <<EOF
# Written by slurm/cluster.sh: a $n-node Slurm cluster on one machine, loopback only.
ClusterName=strata$(basename "$dir" | tr -dc 'a-z0-9' | tail -c 8)
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdSpoolDir=$dir/spool/%n
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmdLogFile=$dir/log/slurmd-%n.log
# Without a per-node TmpFS, multi-node PMIx steps fail (pmixp_mkdir ... File exists).
TmpFS=$dir/tmp/%n
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TaskProlog=$dir/task_prolog.sh
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
PlugStackConfig=$dir/plugstack.conf
SlurmdParameters=config_overrides
# Schedule, requeue and start dependent jobs within about a second.
SchedulerParameters=sched_interval=1,bf_interval=1
DependencyParameters=kill_invalid_depend
KillWait=5
# Daemons listen on 127.0.0.1 only (the address of the node or controller), not on all addresses.
CommunicationParameters=NoInAddrAny
# sbatch --wait polls the controller after 2 s, then multiplies its interval by 4 while it is
# below MinJobAge/2 (up to 32 s): with MinJobAge=600 a 12 s job made sbatch --wait wait 42 s.
# With 4 it polls every 2 s. A finished job stays in scontrol/squeue for at least 4 s (until
# the next purge); sacct -c (the JobCompLoc file) keeps every job.
MinJobAge=4
ReturnToService=2
JobRequeue=1
MaxArraySize=1001
MailProg=/bin/true
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
NodeName=n[1-$n] NodeHostname=$nodehost NodeAddr=127.0.0.1 Port=[$node_port-$((node_port + n - 1))] CPUs=2 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  : > "$dir/plugstack.conf"
  # The task prolog runs before every task, the batch script included; its "export" lines go
  # into the task's environment. These are facts of this fake cluster, not of a job: Open MPI
  # stays on loopback and may run as root, and its ranks yield the CPU when they wait, since the
  # fake nodes together claim more CPUs than the machine has (4 busy-polling ranks on 2 cores:
  # an srun step of mpi_loader took 9.4 s instead of 2.0 s).
  cat > "$dir/task_prolog.sh" <<EOF
#!/bin/sh
[ -n "\${OMPI_MCA_btl_tcp_if_include:-}" ] || echo "export OMPI_MCA_btl_tcp_if_include=lo"
[ -n "\${OMPI_MCA_oob_tcp_if_include:-}" ] || echo "export OMPI_MCA_oob_tcp_if_include=lo"
[ -n "\${OMPI_ALLOW_RUN_AS_ROOT:-}" ] || echo "export OMPI_ALLOW_RUN_AS_ROOT=1"
[ -n "\${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-}" ] || echo "export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
[ -n "\${OMPI_MCA_mpi_yield_when_idle:-}" ] || echo "export OMPI_MCA_mpi_yield_when_idle=1"
EOF
  if [ "$HOSTNAMES" = shared ]; then
    echo '[ -n "${OMPI_MCA_btl:-}" ] || echo "export OMPI_MCA_btl=self,tcp"' >> "$dir/task_prolog.sh"
  fi
  chmod 755 "$dir/task_prolog.sh"
}

start_slurmd() {  # start_slurmd DIR K
  local dir=$1 k=$2
  if [ "$HOSTNAMES" = per-node ]; then
    unshare --uts --mount --propagation private \
      sh -c 'hostname "$1" && mount --bind "$2" /etc/hosts && exec slurmd -f "$3" -N "$1"' \
      sh "n$k" "$dir/hosts" "$dir/slurm.conf"
  else
    slurmd -f "$dir/slurm.conf" -N "n$k"
  fi
}

cmd_start() {
  local n=${NODES_OPT:-2} dir=${DIR:-} timeout=${TIMEOUT:-30} t0 k base pid idle t sock
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "--nodes wants a positive number, not '$n'"
  [ "$(id -u)" = 0 ] || die "needs root (slurmd runs jobs as their owner, and unshare)"
  for c in munged mungekey slurmctld slurmd sinfo sbatch srun scancel squeue; do
    command -v "$c" >/dev/null || die "$c not found: run scripts/install-deps.sh (slurm-wlm, munge)"
  done
  t0=$(date +%s%N)
  if [ -n "$dir" ]; then
    dir=$(realpath -m -- "$dir")
    local up=$dir
    while up=$(dirname "$up"); [ "$up" != / ]; do  # munged refuses a socket below a closed folder
      [ -d "$up" ] || continue
      [ "$(( 0$(stat -c %a "$up") & 1 ))" = 1 ] ||
        die "munged needs every folder above its socket open to all (o+x): chmod o+x $up, or another --dir"
    done
    if [ -e "$dir/cluster.env" ] && is_cluster_dir "$dir"; then
      # shellcheck disable=SC1090
      (. "$dir/cluster.env"; alive "$(pidof_file "$dir/run/slurmctld.pid")" slurmctld) &&
        die "$dir: a cluster is already running there (slurm/cluster.sh stop --dir $dir)"
    fi
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || is_cluster_dir "$dir" || die "$dir is not empty"
    rm -rf "${dir:?}"/*
  else
    dir=$(mktemp -d /tmp/strata-slurm.XXXXXX)
  fi
  # munged wants its socket's folders open to all (execute) and its key folder closed.
  chmod 755 "$dir"
  mkdir -p "$dir"/{munge,munge/key,state,run,log}
  chmod 755 "$dir/munge"; chmod 700 "$dir/munge/key"
  for k in $(seq 1 "$n"); do mkdir -p "$dir/spool/n$k" "$dir/tmp/n$k"; done

  # One hostname per fake node if this machine lets us make UTS and mount namespaces.
  # STRATA_SLURM_HOSTNAMES=shared forces the fallback (to test it).
  HOSTNAMES=shared
  if [ "${STRATA_SLURM_HOSTNAMES:-}" != shared ] && command -v unshare >/dev/null &&
     unshare --uts --mount --propagation private sh -c 'hostname strata-probe && mount --bind /etc/hosts /etc/hosts' 2>/dev/null; then
    HOSTNAMES=per-node
  elif [ "${STRATA_SLURM_HOSTNAMES:-}" = shared ]; then
    say "STRATA_SLURM_HOSTNAMES=shared: the fake nodes share one hostname and jobs get OMPI_MCA_btl=self,tcp"
  else
    say "unshare --uts --mount is not allowed here: the fake nodes share one hostname and jobs get OMPI_MCA_btl=self,tcp"
  fi
  {
    echo "127.0.0.1 localhost"
    for k in $(seq 1 "$n"); do echo "127.0.0.1 n$k"; done
    grep -v -E '^[[:space:]]*(#|$)|[[:space:]]localhost([[:space:]]|$)' /etc/hosts || true
  } > "$dir/hosts"

  base=$(free_base $((n + 1))) || die "no $((n + 1)) free TCP ports between 6817 and 7800"
  cat > "$dir/cluster.env" <<EOF
MARKER=$MARKER
NODES=$n
CTLD_PORT=$base
HOSTNAMES=$HOSTNAMES
EOF
  write_conf "$dir" "$n" "$base" $((base + 1))
  [ -n "${DIR:-}" ] || echo "$dir" > "$LAST"   # for stop/status without --dir

  fail() {
    say "$*"
    show_logs "$dir"
    stop_daemons "$dir" || true
    say "daemons stopped; folder kept for inspection: $dir (remove it, or: slurm/cluster.sh stop --dir $dir)"
    exit 1
  }

  sock=$dir/munge/munge.socket
  mungekey --create --keyfile="$dir/munge/key/munge.key" --force >/dev/null 2>&1 ||
    fail "mungekey --create failed"
  chmod 600 "$dir/munge/key/munge.key"
  munged --key-file="$dir/munge/key/munge.key" --socket="$sock" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" 2>>"$dir/munge/munged.log" ||
    fail "munged did not start"
  for ((t = 0; t < 50; t++)); do
    munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1 && break
    sleep 0.1
  done
  ((t < 50)) || fail "munge does not answer on $sock"

  slurmctld -f "$dir/slurm.conf" 2>>"$dir/log/slurmctld.log" || fail "slurmctld did not start"
  for k in $(seq 1 "$n"); do
    start_slurmd "$dir" "$k" 2>>"$dir/log/slurmd-n$k.log" || fail "slurmd n$k did not start"
  done

  export SLURM_CONF=$dir/slurm.conf
  idle=0
  for ((t = 0; t < timeout * 10; t++)); do
    idle=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | grep -c . || true)
    [ "$idle" -ge "$n" ] && break
    sleep 0.1
  done
  [ "$idle" -ge "$n" ] || fail "only $idle of $n nodes idle in sinfo after ${timeout} s:
$(sinfo -N 2>&1 || true)"
  say "$n nodes idle after $(elapsed "$t0") s ($HOSTNAMES hostnames, slurmctld on 127.0.0.1:$base)"
  echo "# strata Slurm cluster: $n nodes, folder $dir (stop: slurm/cluster.sh stop --dir $dir)"
  echo "export SLURM_CONF=$dir/slurm.conf"
}

# ---------------------------------------------------------------------------------------------
[ $# -ge 1 ] || usage
cmd=$1; shift
DIR=""; NODES_OPT=""; TIMEOUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) NODES_OPT=${2:?--nodes N}; shift 2 ;;
    --nodes=*) NODES_OPT=${1#*=}; shift ;;
    --dir) DIR=${2:?--dir DIR}; shift 2 ;;
    --dir=*) DIR=${1#*=}; shift ;;
    --timeout) TIMEOUT=${2:?--timeout S}; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "cluster.sh: unknown option $1" >&2; usage ;;
  esac
done
case $cmd in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h|--help|help) usage ;;
  *) echo "cluster.sh: unknown command $cmd" >&2; usage ;;
esac

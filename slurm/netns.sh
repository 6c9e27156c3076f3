#!/usr/bin/env bash
# netns.sh — 2-4 "hosts" on this one machine made of Linux namespaces and joined by a real
# network stack, to run strata (Open MPI over TCP, no shared memory) as on several nodes and to
# shape, measure and cut the links between them. Works without root where the kernel allows
# unprivileged user namespaces. See docs/scaling.md.
#
#   slurm/netns.sh up N [--rate 1gbit|10gbit|none] [--delay 20us] [--dir DIR]
#   slurm/netns.sh run [--dir DIR] -- MPIRUN-ARGS...     (mpirun on h0; one slot per host)
#   slurm/netns.sh exec HOST [--dir DIR] -- COMMAND...   (a command inside host HOST)
#   slurm/netns.sh cut HOST [--dir DIR]                  (ip link set HOST's link down)
#   slurm/netns.sh shape [--rate R] [--dir DIR]          (change the rate of every link)
#   slurm/netns.sh status [--dir DIR] | down [--dir DIR]
#
# Layout: a "fabric" holder process in a new user (uid mapped to 0), network, mount and UTS
# namespace holds the bridge `br0`; each host hK (K = 0..N-1) is a holder process in its own
# network, UTS (hostname hK) and mount namespace inside that user namespace, with one interface
# `hnet0` (address 10.77.0.(K+1)/24; the peer end `vhK` is on the bridge) and loopback. The
# fabric's mount namespace has an /etc/hosts naming h0..hN-1. mpirun runs in h0 and starts
# orted in the other hosts through `--mca plm_rsh_agent` = this script's `agent` (nsenter into
# the host's namespaces); btl tcp,self and oob/btl restricted to hnet0. --rate puts a tbf token
# bucket at that rate on both ends of every host's link (egress of hnet0 and of vhK). --delay
# (sch_netem is not in this kernel) replaces the bridge with build/bench/net_relay, a userspace
# switch between TAP devices (hnet0 in each host) that delays frames and paces each port at --rate.
# State (holder PIDs) is in DIR (default /tmp/strata-netns.$UID); `down` ends the holders by PID.
set -euo pipefail

SELF=$(readlink -f "$0")
IFACE=hnet0
NET=10.77.0
RELAY_BIN=$(dirname "$SELF")/../build/bench/net_relay
# Retransmissions before a TCP connection to a silent peer fails (Linux: 15, about 15 min): 4,
# about 6 s, so mpirun gives up on a cut host's orted in seconds, as ssh's ServerAliveInterval
# would on a real cluster (docs/scaling.md, "Failure run").
TCP_RETRIES2=4
die() { echo "netns.sh: $*" >&2; exit 1; }
say() { echo "netns.sh: $*" >&2; }
usage() { sed -n '7,12p' "$SELF" | sed 's/^# *//' >&2; exit 2; }

DIR=${STRATA_NETNS_DIR:-/tmp/strata-netns.$(id -u)}

# holder_ready PID [COMM]: the process has exec'd its `sleep` (or COMM): its namespaces are set up.
holder_ready() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "${2:-sleep}" ]; }
wait_holder() {
  local pid=$1 t
  for ((t = 0; t < 100; t++)); do holder_ready "$pid" "${2:-sleep}" && return 0; kill -0 "$pid" 2>/dev/null || return 1; sleep 0.05; done
  return 1
}
alive_holder() { [ -n "${1:-}" ] && holder_ready "$1"; }

# The nsenter options that enter the fabric or a host (user namespace only when one was made).
# (exec: a holder started in the background keeps the PID the caller sees as $!.)
# --user only from outside the user namespace (joining the one a process is in fails).
user_opt() { [ "$USERNS" = 1 ] && [ "$(readlink /proc/self/ns/user)" != "$(readlink "/proc/$1/ns/user")" ] && echo --user --preserve-credentials; true; }
enter_fabric() {
  local u; u=$(user_opt "$FABRIC")
  # shellcheck disable=SC2086
  exec_or_run nsenter -t "$FABRIC" $u --net --mount --uts -- "$@"
}
exec_or_run() { if [ "${EXEC_HOLDER:-0}" = 1 ]; then exec "$@"; else "$@"; fi; }
enter_host() {
  local k=$1; shift
  local pid u; pid=$(cat "$DIR/h$k.pid"); u=$(user_opt "$pid")
  # shellcheck disable=SC2086
  nsenter -t "$pid" $u --net --mount --uts --wd="$PWD" -- "$@"
}

load_state() {
  [ -f "$DIR/netns.env" ] || die "no harness in $DIR (slurm/netns.sh up N first)"
  # shellcheck disable=SC1091
  . "$DIR/netns.env"
  alive_holder "$FABRIC" || die "the fabric holder (pid $FABRIC) of $DIR is gone: slurm/netns.sh down, then up again"
}

host_index() {  # host_index hK|K -> K
  local h=${1#h}
  [[ $h =~ ^[0-9]+$ ]] && [ "$h" -lt "$HOSTS" ] || die "no host '$1' (the harness has h0..h$((HOSTS - 1)))"
  echo "$h"
}

# Why namespaces cannot be made here, or nothing when they can.
probe() {
  command -v unshare >/dev/null || { echo "unshare not found (util-linux)"; return; }
  command -v nsenter >/dev/null || { echo "nsenter not found (util-linux)"; return; }
  command -v ip >/dev/null || { echo "ip not found (iproute2)"; return; }
  local out
  if out=$(unshare --user --map-root-user --net --mount --uts sh -c \
      'ip link add probe0 type veth peer name probe1 && ip link add br0 type bridge && hostname probe' 2>&1); then
    echo "userns"; return
  fi
  if [ "$(id -u)" = 0 ] && unshare --net --mount --uts sh -c 'ip link add probe0 type veth peer name probe1' 2>/dev/null; then
    echo "root"; return
  fi
  local why=""
  [ -r /proc/sys/kernel/unprivileged_userns_clone ] && [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" = 0 ] &&
    why=" (kernel.unprivileged_userns_clone = 0)"
  [ -r /proc/sys/user/max_user_namespaces ] && [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ] &&
    why=" (user.max_user_namespaces = 0)"
  echo "unshare --user --map-root-user --net failed$why: ${out##*$'\n'}"
}

set_rate() {  # set_rate DEV RATE (run inside a namespace)
  local dev=$1 rate=$2
  tc qdisc del dev "$dev" root 2>/dev/null || true
  [ "$rate" = none ] && return 0
  # A token bucket: 512 KB bursts, packets wait up to 20 ms in its queue (then drop). So a
  # message under 512 KB passes at the host's speed (64 KiB all-reduces beat the rate). Smaller
  # bursts starve TCP: with 64 KB (one GSO segment) a 2.27 MB all-reduce at 1 Gb/s took 47 ms
  # instead of 25. htb at the same rate was 2-3x slower on 1-2 MB all-reduces (fast
  # retransmits, no counted drops).
  tc qdisc add dev "$dev" root tbf rate "$rate" burst 512k latency 20ms
}

cmd_up() {
  local n=$1; shift
  local rate=none delay=""
  while [ $# -gt 0 ]; do
    case $1 in
      --rate) rate=$2; shift 2 ;;
      --delay) delay=$2; shift 2 ;;
      --dir) DIR=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $n =~ ^[2-4]$ ]] || die "up N: N is 2, 3 or 4 hosts (got '$n')"
  [[ $rate =~ ^(none|[0-9]+[kmg]?bit)$ ]] || die "--rate: '$rate' is not none or NUMBER[k|m|g]bit (e.g. 1gbit)"
  if [ -f "$DIR/netns.env" ]; then
    # shellcheck disable=SC1091
    (. "$DIR/netns.env"; alive_holder "$FABRIC") && die "a harness already runs in $DIR (slurm/netns.sh down first)"
    rm -rf -- "$DIR"
  fi
  local how; how=$(probe)
  case $how in userns) USERNS=1 ;; root) USERNS=0 ;; *) die "cannot make network namespaces here: $how" ;; esac
  local delay_us="" bps=0
  if [ -n "$delay" ]; then
    [[ $delay =~ ^([0-9]+)(us|ms)$ ]] || die "--delay: '$delay' is not NUMBERus or NUMBERms (e.g. 20us)"
    delay_us=${BASH_REMATCH[1]}; [ "${BASH_REMATCH[2]}" = ms ] && delay_us=$((delay_us * 1000))
    [ -x "$RELAY_BIN" ] || die "--delay needs $RELAY_BIN (make build/bench/net_relay): this kernel has no sch_netem"
    case $rate in none) bps=0 ;; *kbit) bps=$(( ${rate%kbit} * 1000 )) ;; *mbit) bps=$(( ${rate%mbit} * 1000000 )) ;;
      *gbit) bps=$(( ${rate%gbit} * 1000000000 )) ;; *) bps=${rate%bit} ;; esac
  fi
  mkdir -p "$DIR"
  local u=(); [ "$USERNS" = 1 ] && u=(--user --map-root-user)
  setsid unshare "${u[@]}" --net --mount --uts --propagation private sleep infinity < /dev/null > /dev/null 2>&1 &
  FABRIC=$!
  wait_holder "$FABRIC" || die "the fabric namespace did not start"
  HOSTS=$n
  printf 'FABRIC=%s\nUSERNS=%s\nHOSTS=%s\nRATE=%s\nRELAY=\n' "$FABRIC" "$USERNS" "$n" "$rate" > "$DIR/netns.env"
  { echo "127.0.0.1 localhost"; for ((k = 0; k < n; k++)); do echo "$NET.$((k + 1)) h$k"; done; } > "$DIR/hosts"
  enter_fabric sh -c "mount --bind '$DIR/hosts' /etc/hosts && ip link set lo up && ip link add br0 type bridge && ip link set br0 up" \
    || { cmd_down; die "could not set up the bridge in the fabric namespace"; }
  for ((k = 0; k < n; k++)); do
    EXEC_HOLDER=1 enter_fabric setsid unshare --net --uts --mount --propagation private sh -c "hostname h$k; exec sleep infinity" \
      < /dev/null > /dev/null 2>&1 &
    local pid=$!
    wait_holder "$pid" || { cmd_down; die "host h$k did not start"; }
    echo "$pid" > "$DIR/h$k.pid"
    [ -n "$delay_us" ] && continue
    enter_fabric sh -c "ip link add vh$k type veth peer name $IFACE-$k && ip link set $IFACE-$k netns $pid &&
      ip link set vh$k master br0 && ip link set vh$k up" || { cmd_down; die "could not link h$k to the bridge"; }
    enter_host "$k" sh -c "ip link set lo up && ip link set $IFACE-$k name $IFACE && ip addr add $NET.$((k + 1))/24 dev $IFACE &&
      ip link set $IFACE up && sysctl -qw net.ipv4.tcp_retries2=$TCP_RETRIES2" || { cmd_down; die "could not configure $IFACE in h$k"; }
  done
  if [ -n "$delay_us" ]; then
    start_relay "$delay_us" "$bps" || { cmd_down; die "net_relay did not start (see above)"; }
  else
    apply_rate "$rate" || { cmd_down; die "tc could not shape the links at $rate"; }
  fi
  say "up: $n hosts h0..h$((n - 1)) on $IFACE ($NET.1-$NET.$n), rate $rate, $( [ "$USERNS" = 1 ] && echo "user namespace (no root needed)" || echo "as root, no user namespace"); state in $DIR"
}

# With --delay: net_relay (bench/net_relay.c) in the fabric creates tap0..tapN-1, each moved into
# its host as hnet0; it forwards frames after the delay and at the rate (its fds stay attached).
start_relay() {
  local delay_us=$1 bps=$2 k taps=()
  for ((k = 0; k < HOSTS; k++)); do taps+=("tap$k"); done
  EXEC_HOLDER=1 enter_fabric setsid "$RELAY_BIN" "$delay_us" "$bps" "${taps[@]}" < /dev/null > /dev/null 2> "$DIR/relay.log" &
  local pid=$!
  wait_holder "$pid" net_relay || { cat "$DIR/relay.log" >&2; return 1; }
  sed -i "s/^RELAY=.*/RELAY=$pid/" "$DIR/netns.env"
  RELAY=$pid
  for ((k = 0; k < HOSTS; k++)); do
    local t
    for ((t = 0; t < 100; t++)); do enter_fabric ip link show "tap$k" > /dev/null 2>&1 && break; sleep 0.05; done
    enter_fabric ip link set "tap$k" netns "$(cat "$DIR/h$k.pid")" || return 1
    enter_host "$k" sh -c "ip link set lo up && ip link set tap$k name $IFACE && ip addr add $NET.$((k + 1))/24 dev $IFACE &&
      ip link set $IFACE up && sysctl -qw net.ipv4.tcp_retries2=$TCP_RETRIES2" || return 1
  done
  say "links through net_relay: $delay_us µs delay, $( [ "$bps" = 0 ] && echo "no rate limit" || echo "$bps bit/s") per port"
}

unshare_try_netem() {
  local u=(); [ "$USERNS" = 1 ] && u=(--user --map-root-user)
  unshare "${u[@]}" --net sh -c 'ip link add d0 type dummy && tc qdisc add dev d0 root netem delay 1ms' > /dev/null 2>&1
}

apply_rate() {
  local rate=$1 k
  for ((k = 0; k < HOSTS; k++)); do
    enter_fabric bash -c "$(declare -f set_rate); set_rate vh$k $rate" || return 1
    enter_host "$k" bash -c "$(declare -f set_rate); set_rate $IFACE $rate" || return 1
  done
  sed -i "s/^RATE=.*/RATE=$rate/" "$DIR/netns.env"
}

cmd_shape() {
  local rate=none
  while [ $# -gt 0 ]; do case $1 in --rate) rate=$2; shift 2 ;; --dir) DIR=$2; shift 2 ;; *) usage ;; esac; done
  load_state
  [ -z "${RELAY:-}" ] || die "shape: the links go through net_relay (up --delay); take the harness down and up with another --rate"
  apply_rate "$rate" || die "tc could not shape the links at $rate"
  say "links shaped at $rate"
}

cmd_run() {
  while [ $# -gt 0 ] && [ "$1" != -- ]; do case $1 in --dir) DIR=$2; shift 2 ;; *) usage ;; esac; done
  [ $# -gt 0 ] && shift
  load_state
  local hostfile="$DIR/hostfile" k
  for ((k = 0; k < HOSTS; k++)); do echo "h$k slots=1"; done > "$hostfile"
  # Open MPI's session folders (ompi.hK.0: everyone is uid 0 inside) in the harness's own folder,
  # so another user's earlier run cannot own them.
  mkdir -p "$DIR/tmp"
  # Environment variables beat nothing on mpirun's command line, so set both.
  enter_host 0 env OMPI_MCA_btl_tcp_if_include=$IFACE OMPI_MCA_oob_tcp_if_include=$IFACE OMPI_MCA_btl=tcp,self \
    OMPI_MCA_pml=ob1 OMPI_MCA_plm_rsh_agent="$SELF agent" OMPI_MCA_plm_rsh_args="" STRATA_NETNS_DIR="$DIR" \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_orte_tmpdir_base="$DIR/tmp" \
    mpirun --hostfile "$hostfile" --mca btl tcp,self --mca pml ob1 --mca btl_tcp_if_include $IFACE \
    --mca oob_tcp_if_include $IFACE --mca plm_rsh_agent "$SELF agent" --mca orte_tmpdir_base "$DIR/tmp" "$@"
}

# Called by mpirun as the rsh agent: agent [ssh-style options] HOST COMMAND...
cmd_agent() {
  while [ $# -gt 0 ] && [[ $1 == -* ]]; do shift; done
  local host=$1; shift
  load_state
  local k; k=$(host_index "$host")
  enter_host "$k" /bin/sh -c "$*"
}

cmd_exec() {
  local host=$1; shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do case $1 in --dir) DIR=$2; shift 2 ;; *) usage ;; esac; done
  [ $# -gt 0 ] && shift
  load_state
  mkdir -p "$DIR/tmp"
  OMPI_MCA_orte_tmpdir_base="$DIR/tmp" enter_host "$(host_index "$host")" "$@"
}

cmd_cut() {
  local host=$1; shift
  while [ $# -gt 0 ]; do case $1 in --dir) DIR=$2; shift 2 ;; *) usage ;; esac; done
  load_state
  local k; k=$(host_index "$host")
  if [ -n "${RELAY:-}" ]; then
    enter_host "$k" ip link set "$IFACE" down
    say "cut: h$k's link ($IFACE, a port of net_relay) is down"
  else
    enter_fabric ip link set "vh$k" down
    say "cut: h$k's link (vh$k on the bridge) is down"
  fi
}

cmd_status() {
  while [ $# -gt 0 ]; do case $1 in --dir) DIR=$2; shift 2 ;; *) usage ;; esac; done
  load_state
  echo "fabric pid $FABRIC, $HOSTS hosts, rate $RATE, user namespace $USERNS, state $DIR"
  local k
  for ((k = 0; k < HOSTS; k++)); do
    echo "h$k pid $(cat "$DIR/h$k.pid"): $(enter_host "$k" sh -c "hostname; ip -br addr show $IFACE; awk '/$IFACE:/ { print \"rx\", \$2, \"tx\", \$10 }' /proc/net/dev" | tr '\n' ' ')"
  done
}

cmd_down() {
  while [ $# -gt 0 ]; do case $1 in --dir) DIR=$2; shift 2 ;; *) usage ;; esac; done
  [ -d "$DIR" ] || { say "nothing to take down in $DIR"; return 0; }
  local f pid ns p
  for f in "$DIR"/h*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    alive_holder "$pid" || continue
    # What still runs in the host (an orted whose mpirun lost it), then the holder.
    ns=$(readlink "/proc/$pid/ns/net")
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      [ "$p" != "$pid" ] && [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$ns" ] && kill "$p" 2>/dev/null
    done
    kill "$pid" 2>/dev/null || true
  done
  if [ -f "$DIR/netns.env" ]; then
    pid=$(sed -n 's/^RELAY=//p' "$DIR/netns.env")
    [ -n "$pid" ] && holder_ready "$pid" net_relay && kill "$pid" 2>/dev/null
    pid=$(sed -n 's/^FABRIC=//p' "$DIR/netns.env")
    alive_holder "$pid" && kill "$pid" 2>/dev/null || true
  fi
  rm -rf -- "$DIR"
  say "down: removed $DIR"
}

[ $# -ge 1 ] || usage
cmd=$1; shift
case $cmd in
  up) [ $# -ge 1 ] || usage; cmd_up "$@" ;;
  run) cmd_run "$@" ;;
  agent) cmd_agent "$@" ;;
  exec) [ $# -ge 1 ] || usage; cmd_exec "$@" ;;
  cut) [ $# -ge 1 ] || usage; cmd_cut "$@" ;;
  shape) cmd_shape "$@" ;;
  status) cmd_status "$@" ;;
  down) cmd_down "$@" ;;
  probe) r=$(probe); case $r in userns|root) echo "$r" ;; *) echo "$r"; exit 1 ;; esac ;;
  *) usage ;;
esac

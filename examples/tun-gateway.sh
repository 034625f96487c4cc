#!/usr/bin/env bash
# A packet NAT between two network namespaces, with nothing but nat-alg translating: a client
# network, a gateway whose kernel routes packets into two TUN devices (no NAT, no conntrack
# helper), and a server network. socat carries each TUN's packets to nat-alg as UDP datagrams.
#
#   client ns  192.0.2.10 / 2001:db8:1::10
#        | eth0 -- in0 (192.0.2.1, 2001:db8:1::1)
#   gateway ns   in0 --policy route--> tun "tin"  <-socat-> udp 127.0.0.1:7001 -> nat-alg nat
#                out0 --policy route--> tun "tout" <-socat-> udp 127.0.0.1:7002 -> nat-alg nat
#        | out0 (198.51.100.1) -- eth0
#   server ns  198.51.100.7 (route to the NAT address 203.0.113.1 via the gateway)
#
# Usage (root):  examples/tun-gateway.sh up [PREFIX]        (PREFIX defaults to natalg)
#   then an FTP server in the server namespace and a client in the client namespace, e.g.
#                ip netns exec PREFIX-srv python3 -m pyftpdlib -i 198.51.100.7 -p 21 -d DIR &
#                ip netns exec PREFIX-cli curl ftp://198.51.100.7/FILE            (passive)
#                ip netns exec PREFIX-cli curl -P - ftp://198.51.100.7/FILE       (active)
#                ip netns exec PREFIX-cli curl -g 'ftp://[2001:db8:64::c633:6407]/FILE'  (NAT64)
#                examples/tun-gateway.sh down [PREFIX]
# NAT_ALG (default: node dist/cli.js) is the command that runs nat-alg; NAT_ALG_ARGS adds flags
# (an ALG on another port: --alg ftp:21 --alg ftp:2121; a port forward). NAT64 is on with
# 2001:db8:64::/96 and the pool 203.0.113.1. The gateway's log: /tmp/PREFIX-nat.log.
set -euo pipefail
cmd="${1:-up}"
P="${2:-natalg}"
CLI="${NAT_ALG:-node $(cd "$(dirname "$0")/.." && pwd)/dist/cli.js}"
CLI_NS="$P-cli"; GW="$P-gw"; SRV="$P-srv"
x() { ip netns exec "$@"; }

down() {
  for ns in "$CLI_NS" "$GW" "$SRV"; do
    if ip netns pids "$ns" >/dev/null 2>&1; then
      for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null || true; done
    fi
    ip netns del "$ns" 2>/dev/null || true
  done
}

up() {
  down
  for ns in "$CLI_NS" "$GW" "$SRV"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add eth0 netns "$CLI_NS" type veth peer name in0 netns "$GW"
  ip link add eth0 netns "$SRV" type veth peer name out0 netns "$GW"
  ip -n "$CLI_NS" addr add 192.0.2.10/24 dev eth0
  ip -n "$CLI_NS" addr add 2001:db8:1::10/64 dev eth0 nodad
  ip -n "$GW" addr add 192.0.2.1/24 dev in0
  ip -n "$GW" addr add 2001:db8:1::1/64 dev in0 nodad
  ip -n "$GW" addr add 198.51.100.1/24 dev out0
  ip -n "$SRV" addr add 198.51.100.7/24 dev eth0
  for l in "$CLI_NS eth0" "$GW in0" "$GW out0" "$SRV eth0"; do set -- $l; ip -n "$1" link set "$2" up; done
  ip -n "$CLI_NS" route add default via 192.0.2.1
  ip -n "$CLI_NS" -6 route add 2001:db8:64::/96 via 2001:db8:1::1
  ip -n "$SRV" route add 203.0.113.0/24 via 198.51.100.1
  # The gateway routes, but translates nothing itself.
  x "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  x "$GW" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  # nat-alg first (socat gives up when its UDP peer refuses), then one socat per TUN.
  # shellcheck disable=SC2086
  x "$GW" $CLI nat --inside udp:127.0.0.1:7001 --inside-peer udp:127.0.0.1:7101 \
    --outside udp:127.0.0.1:7002 --outside-peer udp:127.0.0.1:7102 \
    --nat-address 203.0.113.1 --inside-network 192.0.2.0/24 \
    --nat64 2001:db8:64::/96 ${NAT_ALG_ARGS:-} </dev/null >"/tmp/$P-nat.out" 2>"/tmp/$P-nat.log" &
  for _ in $(seq 50); do grep -q 'nat-alg nat:' "/tmp/$P-nat.out" 2>/dev/null && break; sleep 0.1; done
  x "$GW" socat TUN,tun-name=tin,tun-type=tun,iff-no-pi,iff-up UDP-DATAGRAM:127.0.0.1:7001,bind=127.0.0.1:7101 </dev/null >"/tmp/$P-socat-in.log" 2>&1 &
  x "$GW" socat TUN,tun-name=tout,tun-type=tun,iff-no-pi,iff-up UDP-DATAGRAM:127.0.0.1:7002,bind=127.0.0.1:7102 </dev/null >"/tmp/$P-socat-out.log" 2>&1 &
  for _ in $(seq 50); do ip -n "$GW" link show tout >/dev/null 2>&1 && ip -n "$GW" link show tin >/dev/null 2>&1 && break; sleep 0.1; done
  for t in tin tout; do x "$GW" sysctl -qw "net.ipv4.conf.$t.rp_filter=0"; done
  # Whatever arrives from either network goes into its TUN, to nat-alg.
  ip -n "$GW" rule add iif in0 lookup 100
  ip -n "$GW" route add default dev tin table 100
  ip -n "$GW" -6 rule add iif in0 lookup 100
  ip -n "$GW" -6 route add default dev tin table 100
  ip -n "$GW" rule add iif out0 lookup 101
  ip -n "$GW" route add default dev tout table 101
  echo "up: client $CLI_NS, gateway $GW (log /tmp/$P-nat.log), server $SRV"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down [PREFIX]" >&2; exit 2 ;;
esac

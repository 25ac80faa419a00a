#!/usr/bin/env bash
# dual-stack: Dual-stack pods: IPv6 beside IPv4, neighbour discovery, duplicate address detection, a Service in both families
# Give the pods, bridges and the underlay of two-nodes-routed an IPv6 address each (from the unique
# local range fd00::/8), next to their IPv4 ones. On the way: a fresh IPv6 address is "tentative"
# until duplicate address detection has run, and nobody can reach it meanwhile; neighbour discovery
# replaces ARP; IPv6 has its own forwarding switch; and a Service gets a virtual address in each
# family, rewritten by an `ip` and an `ip6` nftables table.
# Printed by netlessons 0.1.0 (flavor iproute2).
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
set -euo pipefail
# The files this script writes (server logs, pid files, a plugin's data) go to a fresh folder of
# its own, which nobody else can have prepared.
LAB=$(mktemp -d)

# === Builds on bridge-gateway-nat: Pods leave the node: a gateway on the bridge, forwarding, and masquerade ===

# Create the namespace node1
ip netns add node1
# Create the namespace pod1
ip netns add pod1
# Create the namespace outside
ip netns add outside

# Switch on the loopback in node1
ip netns exec node1 ip link set lo up
# Switch on the loopback in pod1
ip netns exec pod1 ip link set lo up
# Switch on the loopback in outside
ip netns exec outside ip link set lo up

# Create the bridge cni0 in node1
ip netns exec node1 ip link add cni0 type bridge

# Give cni0 the gateway address 10.244.1.1/24
ip netns exec node1 ip addr add 10.244.1.1/24 dev cni0

# Switch on cni0
ip netns exec node1 ip link set cni0 up

# Create the pod's veth pair: veth-pod1 on the node, eth0 in pod1
ip netns exec node1 ip link add veth-pod1 type veth peer name eth0 netns pod1

# Plug veth-pod1 into cni0 and switch it on
ip netns exec node1 ip link set veth-pod1 master cni0
ip netns exec node1 ip link set veth-pod1 up

# Give the pod 10.244.1.2/24 and switch eth0 on
ip netns exec pod1 ip addr add 10.244.1.2/24 dev eth0
ip netns exec pod1 ip link set eth0 up

# The pod's default route goes via 10.244.1.1
ip netns exec pod1 ip route add default via 10.244.1.1

# Wire node1 to the outside: eth0 on both sides
ip netns exec node1 ip link add eth0 type veth peer name eth0 netns outside

# Address and switch on eth0 in node1
ip netns exec node1 ip addr add 203.0.113.1/24 dev eth0
ip netns exec node1 ip link set eth0 up
# Address and switch on eth0 in outside
ip netns exec outside ip addr add 203.0.113.2/24 dev eth0
ip netns exec outside ip link set eth0 up

# Reverse-path filter off in outside: conf.all.rp_filter = 0
ip netns exec outside sysctl -w net.ipv4.conf.all.rp_filter=0
# Reverse-path filter off in outside: conf.eth0.rp_filter = 0
ip netns exec outside sysctl -w net.ipv4.conf.eth0.rp_filter=0

# Start a tiny web server in outside
mkdir -p "$LAB"/www-web
ip netns exec outside python3 -m http.server 8080 --bind 0.0.0.0 --directory "$LAB"/www-web >"$LAB"/web.log 2>&1 &
echo $! >"$LAB"/web.pid
for _ in $(seq 100); do ip netns exec outside ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done

# Switch IP forwarding off on node1
ip netns exec node1 sysctl -w net.ipv4.ip_forward=0

# Ping the outside from the pod: it fails
ip netns exec pod1 ping -c 1 -W 1 203.0.113.2 || echo "(failed, as this step expects)"

# Yet the pod reaches node1's own outside address 203.0.113.1
ip netns exec pod1 ping -c 1 -w 3 203.0.113.1

# Switch IP forwarding on
ip netns exec node1 sysctl -w net.ipv4.ip_forward=1

# Ping again: it still fails
ip netns exec pod1 ping -c 1 -W 1 203.0.113.2 || echo "(failed, as this step expects)"

# For a moment, a strict reverse-path filter on outside's eth0
ip netns exec outside sysctl -w net.ipv4.conf.eth0.rp_filter=1

# Ping again: the request now dies on arrival
ip netns exec pod1 ping -c 1 -W 1 203.0.113.2 || echo "(failed, as this step expects)"

# Reverse-path filter off again on outside's eth0
ip netns exec outside sysctl -w net.ipv4.conf.eth0.rp_filter=0

# Masquerade traffic from the pods that leaves the pod network
ip netns exec node1 iptables -t nat -A POSTROUTING -s 10.244.1.0/24 '!' -o cni0 -j MASQUERADE

# Ping once more: it works
ip netns exec pod1 ping -c 1 -w 3 203.0.113.2

# Read node1's connection tracking table
ip netns exec node1 grep -o 'src=[^ ]* dst=[^ ]*' /proc/net/nf_conntrack

# Fetch a page from the outside server
ip netns exec pod1 curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://203.0.113.2:8080/

# Who does the server think it talked to?
cat "$LAB"/web.log

# === Builds on two-nodes-routed: Two nodes, one flat pod network: routes between pod subnets ===

# Create the namespace node2
ip netns add node2
# Create the namespace pod2
ip netns add pod2

# Switch on the loopback in node2
ip netns exec node2 ip link set lo up
# Switch on the loopback in pod2
ip netns exec pod2 ip link set lo up

# Wire node1 (eth1) to node2 (eth0)
ip netns exec node1 ip link add eth1 type veth peer name eth0 netns node2

# Address and switch on eth1 in node1
ip netns exec node1 ip addr add 192.168.0.1/24 dev eth1
ip netns exec node1 ip link set eth1 up
# Address and switch on eth0 in node2
ip netns exec node2 ip addr add 192.168.0.2/24 dev eth0
ip netns exec node2 ip link set eth0 up

# cni0 on node2 with the gateway 10.244.2.1/24
ip netns exec node2 ip link add cni0 type bridge
ip netns exec node2 ip addr add 10.244.2.1/24 dev cni0
ip netns exec node2 ip link set cni0 up

# pod2 on node2: veth pair, port, address, default route
ip netns exec node2 ip link add veth-pod2 type veth peer name eth0 netns pod2
ip netns exec node2 ip link set veth-pod2 master cni0
ip netns exec node2 ip link set veth-pod2 up
ip netns exec pod2 ip addr add 10.244.2.2/24 dev eth0
ip netns exec pod2 ip link set eth0 up
ip netns exec pod2 ip route add default via 10.244.2.1

# IP forwarding on node2
ip netns exec node2 sysctl -w net.ipv4.ip_forward=1

# On node1: 10.244.2.0/24 via 192.168.0.2
ip netns exec node1 ip route add 10.244.2.0/24 via 192.168.0.2
# On node2: 10.244.1.0/24 via 192.168.0.1
ip netns exec node2 ip route add 10.244.1.0/24 via 192.168.0.1

# Ask node1 how it reaches pod2
ip netns exec node1 ip route get 10.244.2.2

# Start a web server in pod2
mkdir -p "$LAB"/www-web-pod2
ip netns exec pod2 python3 -m http.server 8080 --bind 0.0.0.0 --directory "$LAB"/www-web-pod2 >"$LAB"/web-pod2.log 2>&1 &
echo $! >"$LAB"/web-pod2.pid
for _ in $(seq 100); do ip netns exec pod2 ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done

# pod1 fetches a page from pod2
ip netns exec pod1 curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://10.244.2.2:8080/

# The trap: pod2 saw node1's address, not pod1's
cat "$LAB"/web-pod2.log

# Exempt traffic inside the cluster network from masquerade
ip netns exec node1 iptables -t nat -I POSTROUTING 1 -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN

# pod1 fetches the page again
ip netns exec pod1 curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://10.244.2.2:8080/

# pod2 now sees pod1's own address
cat "$LAB"/web-pod2.log

# pod1 pings pod2: the reply arrives with ttl=62
ip netns exec pod1 ping -c 1 -w 3 10.244.2.2

# Hop 1 from pod1 to pod2: who answers?
ip netns exec pod1 ping -c 1 -W 1 -t 1 10.244.2.2 || echo "(failed, as this step expects)"
# Hop 2 from pod1 to pod2: who answers?
ip netns exec pod1 ping -c 1 -W 1 -t 2 10.244.2.2 || echo "(failed, as this step expects)"

# pod2 pings pod1: the other direction, without any NAT
ip netns exec pod2 ping -c 1 -w 3 10.244.1.2

# Hop 1 from pod2 to pod1: who answers?
ip netns exec pod2 ping -c 1 -W 1 -t 1 10.244.1.2 || echo "(failed, as this step expects)"
# Hop 2 from pod2 to pod1: who answers?
ip netns exec pod2 ping -c 1 -W 1 -t 2 10.244.1.2 || echo "(failed, as this step expects)"

# === Dual-stack pods: IPv6 beside IPv4, neighbour discovery, duplicate address detection, a Service in both families ===

# Every interface already has an IPv6 address
ip netns exec pod1 ip addr show dev eth0

# node1 keeps its IPv6 addresses when a link goes down
ip netns exec node1 sysctl -w net.ipv6.conf.all.keep_addr_on_down=1
# node2 keeps its IPv6 addresses when a link goes down
ip netns exec node2 sysctl -w net.ipv6.conf.all.keep_addr_on_down=1
# pod1 keeps its IPv6 addresses when a link goes down
ip netns exec pod1 sysctl -w net.ipv6.conf.all.keep_addr_on_down=1
# pod2 keeps its IPv6 addresses when a link goes down
ip netns exec pod2 sysctl -w net.ipv6.conf.all.keep_addr_on_down=1

# cni0 on node1 gets fd00:10:244:1::1/64 (nodad)
ip netns exec node1 ip addr add fd00:10:244:1::1/64 dev cni0 nodad
# cni0 on node2 gets fd00:10:244:2::1/64 (nodad)
ip netns exec node2 ip addr add fd00:10:244:2::1/64 dev cni0 nodad

# eth1 on node1 gets fd00:192:168::1/64 (nodad)
ip netns exec node1 ip addr add fd00:192:168::1/64 dev eth1 nodad
# eth0 on node2 gets fd00:192:168::2/64 (nodad)
ip netns exec node2 ip addr add fd00:192:168::2/64 dev eth0 nodad

# pod1 probes 5 times before it trusts a new address, the first one at once
ip netns exec pod1 sysctl -w net.ipv6.conf.eth0.dad_transmits=5
ip netns exec pod1 sysctl -w net.ipv6.conf.eth0.router_solicitation_delay=0

# pod1 gets fd00:10:244:1::2/64: tentative
ip netns exec pod1 ip addr add fd00:10:244:1::2/64 dev eth0 && ip netns exec pod1 ip addr show dev eth0

# node1 pings fd00:10:244:1::2: no answer while it is tentative
ip netns exec node1 ping -c 1 -W 2 fd00:10:244:1::2 || echo "(failed, as this step expects)"

# Add fd00:10:244:1::2 again with nodad: usable at once
ip -n pod1 addr del fd00:10:244:1::2/64 dev eth0 && ip netns exec pod1 ip addr add fd00:10:244:1::2/64 dev eth0 nodad && ip netns exec pod1 ip addr show dev eth0

# pod2 gets fd00:10:244:2::2/64 (nodad)
ip netns exec pod2 ip addr add fd00:10:244:2::2/64 dev eth0 nodad

# pod1 pings its IPv6 gateway: neighbour discovery instead of ARP
ip -6 -n node1 neigh flush dev cni0 && ip -n pod1 neigh flush dev eth0 && ip netns exec pod1 ping -c 1 -w 3 fd00:10:244:1::1

# pod1's IPv6 default route: via fd00:10:244:1::1
ip netns exec pod1 ip route add default via fd00:10:244:1::1
# pod2's IPv6 default route: via fd00:10:244:2::1
ip netns exec pod2 ip route add default via fd00:10:244:2::1

# On node1: fd00:10:244:2::/64 via fd00:192:168::2
ip netns exec node1 ip route add fd00:10:244:2::/64 via fd00:192:168::2
# On node2: fd00:10:244:1::/64 via fd00:192:168::1
ip netns exec node2 ip route add fd00:10:244:1::/64 via fd00:192:168::1

# pod1 pings pod2 over IPv6: node1 will not forward it
a=$(ip netns exec node1 nstat -asz Ip6InAddrErrors | awk '/Ip6InAddrErrors/ {print $2}') && ip netns exec pod1 ping -c 1 -W 1 fd00:10:244:2::2 || true; b=$(ip netns exec node1 nstat -asz Ip6InAddrErrors | awk '/Ip6InAddrErrors/ {print $2}'); echo "packets node1 refused to forward: $((b - a))"; ip netns exec node1 sysctl net.ipv4.ip_forward; ip netns exec node1 sysctl net.ipv6.conf.all.forwarding

# IPv6 forwarding on node1
# Erratum: Node set-up guides that copy the Kubernetes "Container Runtimes" prerequisites (and the
# 90-kubeadm.conf sysctl file of distribution kubeadm packages) set only net.ipv4.ip_forward = 1; on
# a dual-stack node IPv6 pods then cannot reach other nodes, as the step before shows. The kubeadm
# dual-stack page asks for net.ipv6.conf.all.forwarding = 1 as well.
ip netns exec node1 sysctl -w net.ipv6.conf.all.forwarding=1
# IPv6 forwarding on node2
ip netns exec node2 sysctl -w net.ipv6.conf.all.forwarding=1

# pod1 pings pod2 over IPv6
ip netns exec pod1 ping -c 1 -w 3 fd00:10:244:2::2

# pod1 still pings pod2 over IPv4
ip netns exec pod1 ping -c 1 -w 3 10.244.2.2

# A web server in pod2 on port 9080, for both families
mkdir -p "$LAB"/www-web-dual && printf '%s\n' pod2 >"$LAB"/www-web-dual/index.html
ip netns exec pod2 python3 -m http.server 9080 --bind :: --directory "$LAB"/www-web-dual >"$LAB"/web-dual.log 2>&1 &
echo $! >"$LAB"/web-dual.pid
for _ in $(seq 100); do ip netns exec pod2 ss -Hltn 'sport = :9080' | grep -q . && break; sleep 0.1; done

# A kube-proxy table in the ip family on node1
ip netns exec node1 nft add table ip kube-proxy && ip netns exec node1 nft add chain ip kube-proxy nat-prerouting '{ type nat hook prerouting priority -100 ; }'
# A kube-proxy table in the ip6 family on node1
ip netns exec node1 nft add table ip6 kube-proxy && ip netns exec node1 nft add chain ip6 kube-proxy nat-prerouting '{ type nat hook prerouting priority -100 ; }'

# 10.96.0.100 port 80 goes to pod2 port 9080 (ip)
ip netns exec node1 nft add rule ip kube-proxy nat-prerouting ip daddr 10.96.0.100 tcp dport 80 dnat to 10.244.2.2:9080
# fd00:10:96::100 port 80 goes to pod2 port 9080 (ip6)
ip netns exec node1 nft add rule ip6 kube-proxy nat-prerouting ip6 daddr fd00:10:96::100 tcp dport 80 dnat to '[fd00:10:244:2::2]:9080'

# pod1 fetches the Service at http://10.96.0.100/
ip netns exec pod1 curl -sS --max-time 2 http://10.96.0.100/
# pod1 fetches the Service at http://[fd00:10:96::100]/
ip netns exec pod1 curl -sS --max-time 2 'http://[fd00:10:96::100]/'

# pod2's log: one client, two families
cat "$LAB"/web-dual.log

# === Clean-up ===

# Stop the web server web
kill "$(cat "$LAB"/web.pid)"
# Stop the web server web-pod2
kill "$(cat "$LAB"/web-pod2.pid)"
# Stop the web server web-dual
kill "$(cat "$LAB"/web-dual.pid)"

# Delete the namespace pod1
ip netns del pod1
# Delete the namespace pod2
ip netns del pod2
# Delete the namespace outside
ip netns del outside
# Delete the namespace node1
ip netns del node1
# Delete the namespace node2
ip netns del node2

# The script's own folder
rm -rf "$LAB"

#!/usr/bin/env bash
# clusterip-kube-proxy: A Service's ClusterIP, the way kube-proxy's iptables mode builds it
# Two pods answer with their own names. A virtual IP that no interface owns is turned into one of
# them by NAT rules on the node, in the chains kube-proxy writes: KUBE-SERVICES, KUBE-SVC-…, KUBE-
# SEP-…, KUBE-MARK-MASQ and KUBE-POSTROUTING. First one endpoint, then the other, then both with
# random balancing, called from the node itself (OUTPUT) and from a pod (PREROUTING). The rule
# counters and the connection table show that NAT is decided once per connection; the filter table
# refuses a Service that has no endpoints.
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

# === A Service's ClusterIP, the way kube-proxy's iptables mode builds it ===

# A web server in pod1 that answers 'pod1'
mkdir -p "$LAB"/www-svc-pod1 && printf '%s\n' pod1 >"$LAB"/www-svc-pod1/index.html
ip netns exec pod1 python3 -m http.server 9376 --bind 0.0.0.0 --directory "$LAB"/www-svc-pod1 >"$LAB"/svc-pod1.log 2>&1 &
echo $! >"$LAB"/svc-pod1.pid
for _ in $(seq 100); do ip netns exec pod1 ss -Hltn 'sport = :9376' | grep -q . && break; sleep 0.1; done
# A web server in pod2 that answers 'pod2'
mkdir -p "$LAB"/www-svc-pod2 && printf '%s\n' pod2 >"$LAB"/www-svc-pod2/index.html
ip netns exec pod2 python3 -m http.server 9376 --bind 0.0.0.0 --directory "$LAB"/www-svc-pod2 >"$LAB"/svc-pod2.log 2>&1 &
echo $! >"$LAB"/svc-pod2.pid
for _ in $(seq 100); do ip netns exec pod2 ss -Hltn 'sport = :9376' | grep -q . && break; sleep 0.1; done

# Give node1 a default route
ip netns exec node1 ip route add default via 203.0.113.2

# Create the chain KUBE-SERVICES
ip netns exec node1 iptables -t nat -N KUBE-SERVICES
# Create the chain KUBE-SVC-WEB
ip netns exec node1 iptables -t nat -N KUBE-SVC-WEB
# Create the chain KUBE-SEP-POD1
ip netns exec node1 iptables -t nat -N KUBE-SEP-POD1
# Create the chain KUBE-SEP-POD2
ip netns exec node1 iptables -t nat -N KUBE-SEP-POD2
# Create the chain KUBE-MARK-MASQ
ip netns exec node1 iptables -t nat -N KUBE-MARK-MASQ
# Create the chain KUBE-POSTROUTING
ip netns exec node1 iptables -t nat -N KUBE-POSTROUTING

# KUBE-MARK-MASQ: set mark 0x4000
ip netns exec node1 iptables -t nat -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000

# KUBE-POSTROUTING: masquerade marked packets
ip netns exec node1 iptables -t nat -A KUBE-POSTROUTING -m mark '!' --mark 0x4000/0x4000 -j RETURN
ip netns exec node1 iptables -t nat -A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
ip netns exec node1 iptables -t nat -A KUBE-POSTROUTING -j MASQUERADE --random-fully

# Hook the chains into PREROUTING
ip netns exec node1 iptables -t nat -I PREROUTING 1 -j KUBE-SERVICES
# Hook the chains into OUTPUT
ip netns exec node1 iptables -t nat -I OUTPUT 1 -j KUBE-SERVICES
# Hook the chains into POSTROUTING
ip netns exec node1 iptables -t nat -I POSTROUTING 1 -j KUBE-POSTROUTING

# KUBE-SERVICES: 10.96.0.100:80 belongs to KUBE-SVC-WEB
ip netns exec node1 iptables -t nat -A KUBE-SERVICES -d 10.96.0.100/32 -p tcp --dport 80 -j KUBE-SVC-WEB

# KUBE-SEP-POD1: mark the endpoint calling itself
ip netns exec node1 iptables -t nat -A KUBE-SEP-POD1 -s 10.244.1.2/32 -j KUBE-MARK-MASQ
# KUBE-SEP-POD1: DNAT to 10.244.1.2:9376
ip netns exec node1 iptables -t nat -A KUBE-SEP-POD1 -p tcp -j DNAT --to-destination 10.244.1.2:9376
# KUBE-SEP-POD2: mark the endpoint calling itself
ip netns exec node1 iptables -t nat -A KUBE-SEP-POD2 -s 10.244.2.2/32 -j KUBE-MARK-MASQ
# KUBE-SEP-POD2: DNAT to 10.244.2.2:9376
ip netns exec node1 iptables -t nat -A KUBE-SEP-POD2 -p tcp -j DNAT --to-destination 10.244.2.2:9376

# Only pod1 behind the Service
ip netns exec node1 iptables -t nat -F KUBE-SVC-WEB
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB '!' -s 10.244.0.0/16 -d 10.96.0.100/32 -p tcp --dport 80 -j KUBE-MARK-MASQ
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB -j KUBE-SEP-POD1
for _ in $(seq 3); do ip netns exec node1 curl -sS --max-time 2 http://10.96.0.100/; done | sort | uniq -c
# Only pod2 behind the Service
ip netns exec node1 iptables -t nat -F KUBE-SVC-WEB
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB '!' -s 10.244.0.0/16 -d 10.96.0.100/32 -p tcp --dport 80 -j KUBE-MARK-MASQ
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB -j KUBE-SEP-POD2
for _ in $(seq 3); do ip netns exec node1 curl -sS --max-time 2 http://10.96.0.100/; done | sort | uniq -c

# pod1 calls the ClusterIP 3 times: PREROUTING, and the nat table sees each connection once
for _ in $(seq 3); do ip netns exec pod1 curl -sS --max-time 2 http://10.96.0.100/; done | sort | uniq -c

# node1's connection table: the decisions, kept per connection
ip netns exec node1 grep 'dst=10.96.0.100 ' /proc/net/nf_conntrack | sed -E 's/.*(src=[^ ]+ dst=[^ ]+) sport=[0-9]+ (dport=[0-9]+) (src=[^ ]+ dst=[^ ]+ sport=[0-9]+).*/\1 \2 \3/' | sort -u

# Both pods behind the Service
ip netns exec node1 iptables -t nat -F KUBE-SVC-WEB
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB '!' -s 10.244.0.0/16 -d 10.96.0.100/32 -p tcp --dport 80 -j KUBE-MARK-MASQ
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB -m statistic --mode random --probability 0.5 -j KUBE-SEP-POD1
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB -j KUBE-SEP-POD2

# 40 requests to the ClusterIP: both pods answer
for _ in $(seq 40); do ip netns exec node1 curl -sS --max-time 2 http://10.96.0.100/; done | sort -u

# The Service chain with its counters
ip netns exec node1 iptables -t nat -L KUBE-SVC-WEB -v -n -x | awk '$3 == "KUBE-MARK-MASQ" {print "first rule (mark for masquerade): " $1 " packets"} $3 ~ /^KUBE-SEP-/ {n += $1; if ($1 > 0) used++} END {print "KUBE-SEP-POD1 + KUBE-SEP-POD2: " n " packets, " used " endpoints used"}'

# The Service chain as iptables shows it
ip netns exec node1 iptables -t nat -S KUBE-SVC-WEB

# Ping the ClusterIP: nothing answers
ip netns exec node1 ping -c 1 -W 1 10.96.0.100 || echo "(failed, as this step expects)"

# Bind 10.96.0.100 to node1's loopback, as IPVS mode binds it to kube-ipvs0: the ping answers
ip netns exec node1 ip addr add 10.96.0.100/32 dev lo && ip netns exec pod1 ping -c 1 -w 3 10.96.0.100; ip -n node1 addr del 10.96.0.100/32 dev lo

# A Service 10.96.0.200 without endpoints: filter chain
ip netns exec node1 iptables -t filter -N KUBE-SERVICES
# A Service 10.96.0.200 without endpoints: hook OUTPUT
ip netns exec node1 iptables -t filter -I OUTPUT 1 -m conntrack --ctstate NEW -j KUBE-SERVICES
# A Service 10.96.0.200 without endpoints: hook FORWARD
ip netns exec node1 iptables -t filter -I FORWARD 1 -m conntrack --ctstate NEW -j KUBE-SERVICES
# A Service 10.96.0.200 without endpoints: REJECT
ip netns exec node1 iptables -t filter -A KUBE-SERVICES -d 10.96.0.200/32 -p tcp -m comment --comment 'default/empty has no endpoints' -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable

# node1 calls 10.96.0.200: refused at once
ip netns exec node1 curl -sS --max-time 2 http://10.96.0.200/ || echo "(failed, as this step expects)"
# pod1 calls 10.96.0.200: refused at once
ip netns exec pod1 curl -sS --max-time 2 http://10.96.0.200/ || echo "(failed, as this step expects)"

# === Clean-up ===

# Stop the web server web
kill "$(cat "$LAB"/web.pid)"
# Stop the web server web-pod2
kill "$(cat "$LAB"/web-pod2.pid)"
# Stop the web server svc-pod1
kill "$(cat "$LAB"/svc-pod1.pid)"
# Stop the web server svc-pod2
kill "$(cat "$LAB"/svc-pod2.pid)"

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

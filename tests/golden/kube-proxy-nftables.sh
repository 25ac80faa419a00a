#!/usr/bin/env bash
# kube-proxy-nftables: The same ClusterIP in kube-proxy's nftables mode: one table, a verdict map, numgen
# The web Service of clusterip-kube-proxy once more, written the way kube-proxy's nftables mode
# writes it: one `ip kube-proxy` table, a verdict map `service-ips` from (address . protocol . port)
# to a chain per Service, `numgen random mod 2 vmap` choosing an endpoint chain, and the masquerade
# mark 0x4000 with a `masquerading` chain. A second Service with one endpoint is one more map
# element. Then the reason the mode exists, measured: iptables mode puts every Service in one linear
# chain, nftables mode finds it in one map look-up.
# Printed by netlessons 0.1.0 (flavor iproute2).
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
# It needs these kernel features (a sandbox cannot load modules): nftables (CONFIG_NF_TABLES).
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

# === The same ClusterIP in kube-proxy's nftables mode: one table, a verdict map, numgen ===

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

# The table ip kube-proxy
ip netns exec node1 nft add table ip kube-proxy

# Base chain nat-prerouting: type nat, hook prerouting, priority -100
ip netns exec node1 nft add chain ip kube-proxy nat-prerouting '{ type nat hook prerouting priority -100 ; }'
# Base chain nat-output: type nat, hook output, priority -100
ip netns exec node1 nft add chain ip kube-proxy nat-output '{ type nat hook output priority -100 ; }'
# Base chain nat-postrouting: type nat, hook postrouting, priority 100
ip netns exec node1 nft add chain ip kube-proxy nat-postrouting '{ type nat hook postrouting priority 100 ; }'

# Regular chain services
ip netns exec node1 nft add chain ip kube-proxy services
# Regular chain mark-for-masquerade
ip netns exec node1 nft add chain ip kube-proxy mark-for-masquerade
# Regular chain masquerading
ip netns exec node1 nft add chain ip kube-proxy masquerading
# Regular chain service-PFISGYVC-default/web/tcp/
ip netns exec node1 nft add chain ip kube-proxy service-PFISGYVC-default/web/tcp/
# Regular chain endpoint-FMFSA7OZ-default/web/tcp/__10.244.1.2/9376
ip netns exec node1 nft add chain ip kube-proxy endpoint-FMFSA7OZ-default/web/tcp/__10.244.1.2/9376
# Regular chain endpoint-7V36PDHG-default/web/tcp/__10.244.2.2/9376
ip netns exec node1 nft add chain ip kube-proxy endpoint-7V36PDHG-default/web/tcp/__10.244.2.2/9376

# nat-prerouting jumps to services
ip netns exec node1 nft add rule ip kube-proxy nat-prerouting jump services
# nat-output jumps to services
ip netns exec node1 nft add rule ip kube-proxy nat-output jump services
# nat-postrouting jumps to masquerading
ip netns exec node1 nft add rule ip kube-proxy nat-postrouting jump masquerading

# mark-for-masquerade sets the bit 0x4000
ip netns exec node1 nft add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000

# masquerading: mark and 0x4000 == 0 return
ip netns exec node1 nft add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
# masquerading: mark set mark xor 0x4000
ip netns exec node1 nft add rule ip kube-proxy masquerading mark set mark xor 0x4000
# masquerading: masquerade fully-random
ip netns exec node1 nft add rule ip kube-proxy masquerading masquerade fully-random

# The verdict map service-ips and the one rule that reads it
ip netns exec node1 nft add map ip kube-proxy service-ips '{ type ipv4_addr . inet_proto . inet_service : verdict ; }'
ip netns exec node1 nft add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips

# Endpoint chain for 10.244.1.2:9376
ip netns exec node1 nft add rule ip kube-proxy endpoint-FMFSA7OZ-default/web/tcp/__10.244.1.2/9376 ip saddr 10.244.1.2 jump mark-for-masquerade
ip netns exec node1 nft add rule ip kube-proxy endpoint-FMFSA7OZ-default/web/tcp/__10.244.1.2/9376 meta l4proto tcp dnat to 10.244.1.2:9376
# Endpoint chain for 10.244.2.2:9376
ip netns exec node1 nft add rule ip kube-proxy endpoint-7V36PDHG-default/web/tcp/__10.244.2.2/9376 ip saddr 10.244.2.2 jump mark-for-masquerade
ip netns exec node1 nft add rule ip kube-proxy endpoint-7V36PDHG-default/web/tcp/__10.244.2.2/9376 meta l4proto tcp dnat to 10.244.2.2:9376

# The Service chain: mark what comes from outside the pods, then numgen picks an endpoint
ip netns exec node1 nft add rule ip kube-proxy service-PFISGYVC-default/web/tcp/ ip daddr 10.96.0.100 tcp dport 80 ip saddr '!=' 10.244.0.0/16 jump mark-for-masquerade
ip netns exec node1 nft add rule ip kube-proxy service-PFISGYVC-default/web/tcp/ numgen random mod 2 vmap '{ 0 : goto endpoint-FMFSA7OZ-default/web/tcp/__10.244.1.2/9376, 1 : goto endpoint-7V36PDHG-default/web/tcp/__10.244.2.2/9376 }'

# No element in service-ips yet: 10.96.0.100 does not answer
ip netns exec node1 curl -sS --max-time 1 http://10.96.0.100/ 2>/dev/null || echo "no answer: curl exit status $?"

# The element 10.96.0.100 . tcp . 80 : goto the Service chain
ip netns exec node1 nft add element ip kube-proxy service-ips '{ 10.96.0.100 . tcp . 80 : goto service-PFISGYVC-default/web/tcp/ }'

# 40 requests to 10.96.0.100: both pods answer
for _ in $(seq 40); do ip netns exec node1 curl -sS --max-time 2 http://10.96.0.100/; done | sort -u

# A second Service, api at 10.96.0.101, with pod2 as its only endpoint
ip netns exec node1 nft add chain ip kube-proxy service-CDROZJMR-default/api/tcp/ && ip netns exec node1 nft add chain ip kube-proxy endpoint-5CTYXROF-default/api/tcp/__10.244.2.2/9376
ip netns exec node1 nft add rule ip kube-proxy endpoint-5CTYXROF-default/api/tcp/__10.244.2.2/9376 ip saddr 10.244.2.2 jump mark-for-masquerade && ip netns exec node1 nft add rule ip kube-proxy endpoint-5CTYXROF-default/api/tcp/__10.244.2.2/9376 meta l4proto tcp dnat to 10.244.2.2:9376
ip netns exec node1 nft add rule ip kube-proxy service-CDROZJMR-default/api/tcp/ ip daddr 10.96.0.101 tcp dport 80 ip saddr '!=' 10.244.0.0/16 jump mark-for-masquerade && ip netns exec node1 nft add rule ip kube-proxy service-CDROZJMR-default/api/tcp/ numgen random mod 1 vmap '{ 0 : goto endpoint-5CTYXROF-default/api/tcp/__10.244.2.2/9376 }'

# One more map element, and 10.96.0.101 answers: pod2
ip netns exec node1 nft add element ip kube-proxy service-ips '{ 10.96.0.101 . tcp . 80 : goto service-CDROZJMR-default/api/tcp/ }' && ip netns exec node1 curl -sS --max-time 2 http://10.96.0.101/

# The kube-proxy table as nft lists it
ip netns exec node1 nft list table ip kube-proxy

# Two scratch namespaces for the measurement: bench-ipt
ip netns add bench-ipt && ip netns exec bench-ipt ip link set lo up && ip netns exec bench-ipt ip addr add 10.96.0.1/12 dev lo
# Two scratch namespaces for the measurement: bench-nft
ip netns add bench-nft && ip netns exec bench-nft ip link set lo up && ip netns exec bench-nft ip addr add 10.96.0.1/12 dev lo

# iptables mode against nftables mode with 1, 100, 1000 Services: adding one, and a new connection
ip netns exec bench-ipt python3 -c '
import socket, subprocess, sys, time
mode, counts, k = sys.argv[1], [int(c) for c in sys.argv[2].split(",")], int(sys.argv[3])
ipt = mode == "iptables"
def vip(i):
    return "10.97.%d.%d" % (i // 250, i % 250 + 1)
def service(i):
    if ipt:
        return (":KUBE-SVC-%d - [0:0]\n-A KUBE-SERVICES -d %s/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-%d\n"
                "-A KUBE-SVC-%d -p tcp -j DNAT --to-destination 10.96.0.1:8080\n" % (i, vip(i), i, i))
    return ("add chain ip kube-proxy service-%d\nadd rule ip kube-proxy service-%d meta l4proto tcp dnat to "
            "10.96.0.1:8080\nadd element ip kube-proxy service-ips { %s . tcp . 80 : goto service-%d }\n" % (i, i, vip(i), i))
def load(text):
    if ipt:
        subprocess.run(["iptables-restore", "--noflush"], input="*nat\n" + text + "COMMIT\n", text=True, check=True)
    else:
        subprocess.run(["nft", "-f", "-"], input=text, text=True, check=True)
def per_connection(i):
    start = time.perf_counter()
    for _ in range(k):
        client = socket.create_connection((vip(i), 80), timeout=2)
        server.accept()[0].close()
        client.close()
    return (time.perf_counter() - start) / k * 1000
if ipt:
    load(":KUBE-SERVICES - [0:0]\n-A OUTPUT -j KUBE-SERVICES\n")
else:
    load("add table ip kube-proxy\nadd chain ip kube-proxy nat-output { type nat hook output priority -100 ; }\n"
         "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
         "add chain ip kube-proxy services\nadd rule ip kube-proxy nat-output jump services\n"
         "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips\n")
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 8080))
server.listen(64)
have = 0
for n in counts:
    for chunk in range(have + 1, n, 100):
        load("".join(service(i) for i in range(chunk, min(chunk + 100, n))))
    start = time.perf_counter()
    load(service(n))
    added = (time.perf_counter() - start) * 1000
    have = n
    first, last = per_connection(1), per_connection(n)
    if ipt:
        listing = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout
        size = "KUBE-SERVICES has %d rules" % listing.count("-A KUBE-SERVICES ")
    else:
        listing = subprocess.run(["nft", "list", "table", "ip", "kube-proxy"], capture_output=True, text=True,
                                 check=True).stdout
        size = "service-ips has %d elements, services has %d rule" % (listing.count(" : goto "),
                                                                       listing.count("vmap @service-ips"))
    print("%s, %d Services: %s; adding the last one time=%.3f ms" % (mode, n, size, added))
    print("%s, %d Services: a new connection to the first time=%.3f ms, to the last time=%.3f ms" % (mode, n, first, last))
' iptables 1,100,1000 300 && ip netns exec bench-nft python3 -c '
import socket, subprocess, sys, time
mode, counts, k = sys.argv[1], [int(c) for c in sys.argv[2].split(",")], int(sys.argv[3])
ipt = mode == "iptables"
def vip(i):
    return "10.97.%d.%d" % (i // 250, i % 250 + 1)
def service(i):
    if ipt:
        return (":KUBE-SVC-%d - [0:0]\n-A KUBE-SERVICES -d %s/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-%d\n"
                "-A KUBE-SVC-%d -p tcp -j DNAT --to-destination 10.96.0.1:8080\n" % (i, vip(i), i, i))
    return ("add chain ip kube-proxy service-%d\nadd rule ip kube-proxy service-%d meta l4proto tcp dnat to "
            "10.96.0.1:8080\nadd element ip kube-proxy service-ips { %s . tcp . 80 : goto service-%d }\n" % (i, i, vip(i), i))
def load(text):
    if ipt:
        subprocess.run(["iptables-restore", "--noflush"], input="*nat\n" + text + "COMMIT\n", text=True, check=True)
    else:
        subprocess.run(["nft", "-f", "-"], input=text, text=True, check=True)
def per_connection(i):
    start = time.perf_counter()
    for _ in range(k):
        client = socket.create_connection((vip(i), 80), timeout=2)
        server.accept()[0].close()
        client.close()
    return (time.perf_counter() - start) / k * 1000
if ipt:
    load(":KUBE-SERVICES - [0:0]\n-A OUTPUT -j KUBE-SERVICES\n")
else:
    load("add table ip kube-proxy\nadd chain ip kube-proxy nat-output { type nat hook output priority -100 ; }\n"
         "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
         "add chain ip kube-proxy services\nadd rule ip kube-proxy nat-output jump services\n"
         "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips\n")
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 8080))
server.listen(64)
have = 0
for n in counts:
    for chunk in range(have + 1, n, 100):
        load("".join(service(i) for i in range(chunk, min(chunk + 100, n))))
    start = time.perf_counter()
    load(service(n))
    added = (time.perf_counter() - start) * 1000
    have = n
    first, last = per_connection(1), per_connection(n)
    if ipt:
        listing = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout
        size = "KUBE-SERVICES has %d rules" % listing.count("-A KUBE-SERVICES ")
    else:
        listing = subprocess.run(["nft", "list", "table", "ip", "kube-proxy"], capture_output=True, text=True,
                                 check=True).stdout
        size = "service-ips has %d elements, services has %d rule" % (listing.count(" : goto "),
                                                                       listing.count("vmap @service-ips"))
    print("%s, %d Services: %s; adding the last one time=%.3f ms" % (mode, n, size, added))
    print("%s, %d Services: a new connection to the first time=%.3f ms, to the last time=%.3f ms" % (mode, n, first, last))
' nftables 1,100,1000 300

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
# Delete the namespace bench-ipt
ip netns del bench-ipt
# Delete the namespace bench-nft
ip netns del bench-nft

# The script's own folder
rm -rf "$LAB"

#!/usr/bin/env bash
# loadbalancer-l2: A LoadBalancer IP on the nodes' LAN, announced with ARP as MetalLB's layer 2 mode does
# Put the two nodes of two-nodes-routed and a client on one LAN. A Service of type LoadBalancer gets
# an address of that LAN, and one node, the leader, answers ARP for it: the client's neighbour table
# points at that node, whose kube-proxy rules pass the traffic to the pod. Then the leader fails,
# the client keeps sending to a dead MAC until the new leader sends a gratuitous ARP, and last
# `externalTrafficPolicy: Local` lets the pod see the client's own address.
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

# === A LoadBalancer IP on the nodes' LAN, announced with ARP as MetalLB's layer 2 mode does ===

# Create the namespace lan
ip netns add lan
# Create the namespace client
ip netns add client

# The LAN's switch: br0 in lan
ip netns exec lan ip link add br0 type bridge && ip netns exec lan ip link set br0 up

# Plug node1 into the LAN: eth2, 192.168.1.1/24
ip netns exec lan ip link add port1 type veth peer name eth2 netns node1
ip netns exec lan ip link set port1 master br0 && ip netns exec lan ip link set port1 up
ip netns exec node1 ip addr add 192.168.1.1/24 dev eth2 && ip netns exec node1 ip link set eth2 up
# Plug node2 into the LAN: eth1, 192.168.1.2/24
ip netns exec lan ip link add port2 type veth peer name eth1 netns node2
ip netns exec lan ip link set port2 master br0 && ip netns exec lan ip link set port2 up
ip netns exec node2 ip addr add 192.168.1.2/24 dev eth1 && ip netns exec node2 ip link set eth1 up
# Plug client into the LAN: eth0, 192.168.1.100/24
ip netns exec lan ip link add port3 type veth peer name eth0 netns client
ip netns exec lan ip link set port3 master br0 && ip netns exec lan ip link set port3 up
ip netns exec client ip addr add 192.168.1.100/24 dev eth0 && ip netns exec client ip link set eth0 up

# kube-proxy's chains for the Service on node1
ip netns exec node1 iptables -t nat -N KUBE-SERVICES
ip netns exec node1 iptables -t nat -N KUBE-EXT-WEB
ip netns exec node1 iptables -t nat -N KUBE-SVC-WEB
ip netns exec node1 iptables -t nat -N KUBE-SVL-WEB
ip netns exec node1 iptables -t nat -N KUBE-SEP-POD2
ip netns exec node1 iptables -t nat -N KUBE-MARK-MASQ
ip netns exec node1 iptables -t nat -N KUBE-POSTROUTING
ip netns exec node1 iptables -t nat -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
ip netns exec node1 iptables -t nat -A KUBE-POSTROUTING -m mark '!' --mark 0x4000/0x4000 -j RETURN
ip netns exec node1 iptables -t nat -A KUBE-POSTROUTING -j MASQUERADE
ip netns exec node1 iptables -t nat -I PREROUTING 1 -j KUBE-SERVICES
ip netns exec node1 iptables -t nat -I POSTROUTING 1 -j KUBE-POSTROUTING
# kube-proxy's chains for the Service on node2
ip netns exec node2 iptables -t nat -N KUBE-SERVICES
ip netns exec node2 iptables -t nat -N KUBE-EXT-WEB
ip netns exec node2 iptables -t nat -N KUBE-SVC-WEB
ip netns exec node2 iptables -t nat -N KUBE-SVL-WEB
ip netns exec node2 iptables -t nat -N KUBE-SEP-POD2
ip netns exec node2 iptables -t nat -N KUBE-MARK-MASQ
ip netns exec node2 iptables -t nat -N KUBE-POSTROUTING
ip netns exec node2 iptables -t nat -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
ip netns exec node2 iptables -t nat -A KUBE-POSTROUTING -m mark '!' --mark 0x4000/0x4000 -j RETURN
ip netns exec node2 iptables -t nat -A KUBE-POSTROUTING -j MASQUERADE
ip netns exec node2 iptables -t nat -I PREROUTING 1 -j KUBE-SERVICES
ip netns exec node2 iptables -t nat -I POSTROUTING 1 -j KUBE-POSTROUTING

# On node1: 192.168.1.240:80 goes to pod2, masqueraded (externalTrafficPolicy: Cluster)
ip netns exec node1 iptables -t nat -A KUBE-SERVICES -d 192.168.1.240/32 -p tcp --dport 80 -j KUBE-EXT-WEB
ip netns exec node1 iptables -t nat -A KUBE-EXT-WEB -j KUBE-MARK-MASQ
ip netns exec node1 iptables -t nat -A KUBE-EXT-WEB -j KUBE-SVC-WEB
ip netns exec node1 iptables -t nat -A KUBE-SVC-WEB -j KUBE-SEP-POD2
ip netns exec node1 iptables -t nat -A KUBE-SEP-POD2 -p tcp -j DNAT --to-destination 10.244.2.2:8080
# On node2: 192.168.1.240:80 goes to pod2, masqueraded (externalTrafficPolicy: Cluster)
ip netns exec node2 iptables -t nat -A KUBE-SERVICES -d 192.168.1.240/32 -p tcp --dport 80 -j KUBE-EXT-WEB
ip netns exec node2 iptables -t nat -A KUBE-EXT-WEB -j KUBE-MARK-MASQ
ip netns exec node2 iptables -t nat -A KUBE-EXT-WEB -j KUBE-SVC-WEB
ip netns exec node2 iptables -t nat -A KUBE-SVC-WEB -j KUBE-SEP-POD2
ip netns exec node2 iptables -t nat -A KUBE-SVL-WEB -j KUBE-SEP-POD2
ip netns exec node2 iptables -t nat -A KUBE-SEP-POD2 -p tcp -j DNAT --to-destination 10.244.2.2:8080

# The address on every node, as kube-proxy's IPVS mode binds it: 192.168.1.240 on node1's lo
ip netns exec node1 ip addr add 192.168.1.240/32 dev lo
# The address on every node, as kube-proxy's IPVS mode binds it: 192.168.1.240 on node2's lo
ip netns exec node2 ip addr add 192.168.1.240/32 dev lo

# The client asks for 192.168.1.240: both nodes answer
ip -n client neigh flush dev eth0 && ip netns exec client curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://192.168.1.240/

# strictARP on node1: arp_ignore = 1, arp_announce = 2
ip netns exec node1 sysctl -w net.ipv4.conf.all.arp_ignore=1
ip netns exec node1 sysctl -w net.ipv4.conf.all.arp_announce=2
# strictARP on node2: arp_ignore = 1, arp_announce = 2
ip netns exec node2 sysctl -w net.ipv4.conf.all.arp_ignore=1
ip netns exec node2 sysctl -w net.ipv4.conf.all.arp_announce=2

# The client asks for 192.168.1.240 again: nobody answers now
ip -n client neigh flush dev eth0 && ip netns exec client curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://192.168.1.240/ || echo "(failed, as this step expects)"

# node1 is the leader: it takes 192.168.1.240
ip netns exec node1 ip addr add 192.168.1.240/32 dev eth2

# The client fetches http://192.168.1.240/: node1 answers ARP
ip -n client neigh flush dev eth0 && ip netns exec client curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://192.168.1.240/

# pod2 saw node1's address, not the client's
tail -n 1 "$LAB"/web-pod2.log

# node1 fails: its LAN link goes down
ip netns exec node1 ip link set eth2 down

# The client fetches again: it still sends to node1's MAC
ip netns exec client curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://192.168.1.240/ || echo "(failed, as this step expects)"

# node2 takes over 192.168.1.240
ip netns exec node2 ip addr add 192.168.1.240/32 dev eth1

# node2 sends a gratuitous ARP for 192.168.1.240
ip netns exec node2 python3 -c 'import socket, sys; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0)); mac = s.getsockname()[4]; ip = socket.inet_aton(sys.argv[2]); [s.send(b"\xff" * 6 + mac + bytes.fromhex("0806 0001 0800 06 04 000" + op) + mac + ip + b"\xff" * 6 + ip) for op in "12"]' eth1 192.168.1.240

# The client fetches again: node2 serves it
ip netns exec client curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://192.168.1.240/

# pod2 saw node2's address
tail -n 1 "$LAB"/web-pod2.log

# externalTrafficPolicy: Local on node2
ip netns exec node2 iptables -t nat -F KUBE-EXT-WEB
ip netns exec node2 iptables -t nat -A KUBE-EXT-WEB -j KUBE-SVL-WEB

# The client fetches again
ip netns exec client curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://192.168.1.240/

# pod2 saw the client's own address
tail -n 1 "$LAB"/web-pod2.log

# === Clean-up ===

# Stop the web server web
kill "$(cat "$LAB"/web.pid)"
# Stop the web server web-pod2
kill "$(cat "$LAB"/web-pod2.pid)"

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
# Delete the namespace lan
ip netns del lan
# Delete the namespace client
ip netns del client

# The script's own folder
rm -rf "$LAB"

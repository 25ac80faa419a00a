#!/usr/bin/env bash
# routed-pods: Pods without a bridge: the ptp plugin, then Calico's 169.254.1.1 and proxy ARP
# A node whose pods share no layer 2 at all: every pod has its own veth pair and the node a /32
# route to each. First the real ptp CNI plugin builds it; then we build it by hand the way Calico
# does, with a default gateway, 169.254.1.1, that exists nowhere and that the node answers for by
# proxy ARP. A capture shows the pod asking for that address and getting the MAC address of the
# node's end of its veth.
# Printed by netlessons 0.1.0.
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
set -euo pipefail
# The files this script writes (server logs, pid files, a plugin's data) go to a fresh folder of
# its own, which nobody else can have prepared.
LAB=$(mktemp -d)

# === Pods without a bridge: the ptp plugin, then Calico's 169.254.1.1 and proxy ARP ===

# Create the namespace node1
ip netns add node1
# Create the namespace router
ip netns add router
# Create the namespace pod1
ip netns add pod1
# Create the namespace pod2
ip netns add pod2
# Create the namespace pod3
ip netns add pod3
# Create the namespace pod4
ip netns add pod4

# node1's uplink: eth0, and a default route to its router
ip netns exec node1 ip link add eth0 type veth peer name eth0 netns router
ip netns exec node1 ip addr add 192.168.0.1/24 dev eth0 && ip netns exec node1 ip link set eth0 up
ip netns exec router ip addr add 192.168.0.254/24 dev eth0 && ip netns exec router ip link set eth0 up
ip netns exec node1 ip route add default via 192.168.0.254

# CNI ADD of the ptp plugin for pod1
ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/ptp <<NETLESSONS_JSON | tee "$LAB"/ptp-pod1.json
{"cniVersion": "1.0.0", "name": "routed", "type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON
# CNI ADD of the ptp plugin for pod2
ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/ptp <<NETLESSONS_JSON | tee "$LAB"/ptp-pod2.json
{"cniVersion": "1.0.0", "name": "routed", "type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON

# pod1's address and routes
ip netns exec pod1 ip -br addr show dev eth0 && ip netns exec pod1 ip route show

# On node1: the gateway address on every veth, and a /32 route per pod
ip netns exec node1 ip -br addr show type veth && ip netns exec node1 ip route show

# pod1 pings pod2: one routed hop through node1
ip netns exec pod1 ping -c 1 -w 3 10.244.1.3

# CNI DEL of the ptp plugin for pod1
ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/ptp <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "routed", "type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON
# CNI DEL of the ptp plugin for pod2
ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/ptp <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "routed", "type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON

# Calico style: a veth pair for pod3, cali-pod3 on the node
ip netns exec node1 ip link add cali-pod3 type veth peer name eth0 netns pod3
ip netns exec node1 ip link set cali-pod3 address ee:ee:ee:ee:ee:ee && ip netns exec node1 ip link set cali-pod3 up
# Calico style: a veth pair for pod4, cali-pod4 on the node
ip netns exec node1 ip link add cali-pod4 type veth peer name eth0 netns pod4
ip netns exec node1 ip link set cali-pod4 address ee:ee:ee:ee:ee:ee && ip netns exec node1 ip link set cali-pod4 up

# pod3: the address 10.244.2.1/32, a route to 169.254.1.1, the default route via it
ip netns exec pod3 ip addr add 10.244.2.1/32 dev eth0 && ip netns exec pod3 ip link set eth0 up
ip netns exec pod3 ip route add 169.254.1.1 dev eth0
ip netns exec pod3 ip route add default via 169.254.1.1 dev eth0
# pod4: the address 10.244.2.2/32, a route to 169.254.1.1, the default route via it
ip netns exec pod4 ip addr add 10.244.2.2/32 dev eth0 && ip netns exec pod4 ip link set eth0 up
ip netns exec pod4 ip route add 169.254.1.1 dev eth0
ip netns exec pod4 ip route add default via 169.254.1.1 dev eth0

# On node1, for pod3: proxy ARP on cali-pod3 and a /32 route to 10.244.2.1
ip netns exec node1 sysctl -w net.ipv4.conf.cali-pod3.proxy_arp=1
ip netns exec node1 sysctl -w net.ipv4.neigh.cali-pod3.proxy_delay=0
ip netns exec node1 ip route add 10.244.2.1 dev cali-pod3
# On node1, for pod4: proxy ARP on cali-pod4 and a /32 route to 10.244.2.2
ip netns exec node1 sysctl -w net.ipv4.conf.cali-pod4.proxy_arp=1
ip netns exec node1 sysctl -w net.ipv4.neigh.cali-pod4.proxy_delay=0
ip netns exec node1 ip route add 10.244.2.2 dev cali-pod4

# 169.254.1.1 exists nowhere
for ns in node1 router pod3 pod4; do printf '%s: ' $ns; ip netns exec $ns ip -o addr show | grep -c '169.254.1.1' || true; done

# pod3 pings pod4: the ARP for 169.254.1.1 is answered with cali-pod3's MAC
ip netns exec pod3 ping -c 1 -w 3 10.244.2.2

# pod3's neighbour table: one entry, the gateway that is not there
ip netns exec pod3 ip neigh show

# Why node1 answers: it routes 169.254.1.1 out of a different interface
ip netns exec node1 ip route get 169.254.1.1

# === Clean-up ===

# Delete the namespace pod1
ip netns del pod1
# Delete the namespace pod2
ip netns del pod2
# Delete the namespace pod3
ip netns del pod3
# Delete the namespace pod4
ip netns del pod4
# Delete the namespace router
ip netns del router
# Delete the namespace node1
ip netns del node1

# The script's own folder
rm -rf "$LAB"

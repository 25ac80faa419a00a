#!/usr/bin/env bash
# cni-bridge-plugin: The real thing: the CNI bridge plugin, called by hand
# Run the same bridge plugin that Kubernetes clusters use, exactly as a container runtime calls it:
# ADD wires a pod into the node, CHECK asks whether it is still wired as reported, DEL takes the pod
# out. Then compare what it built with the lab we built by hand in bridge-gateway-nat.
# Printed by netlessons 0.1.0.
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
set -euo pipefail
# The files this script writes (server logs, pid files, a plugin's data) go to a fresh folder of
# its own, which nobody else can have prepared.
LAB=$(mktemp -d)

# === The real thing: the CNI bridge plugin, called by hand ===

# Create the namespace node1
ip netns add node1
# Create the namespace pod1
ip netns add pod1

# Switch IP forwarding off on node1
ip netns exec node1 sysctl -w net.ipv4.ip_forward=0

# CNI ADD: wire pod1 into node1
ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <<NETLESSONS_JSON | tee "$LAB"/cni-result.json
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON

# CNI CHECK: is pod1 still wired as ADD reported?
{ python3 -c 'import json, sys; c = json.load(sys.stdin); c["prevResult"] = json.load(open(sys.argv[1])); print(json.dumps(c))' "$LAB"/cni-result.json <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge

# What the plugin made on the node
ip netns exec node1 ip link show

# The pod's bridge port allows hairpin traffic
ip netns exec node1 bridge -d link show

# The pod's routes
ip netns exec pod1 ip route show

# The plugin's masquerade rules
ip netns exec node1 iptables -t nat -S

# The address host-local has handed out
ls "$LAB"/cni/k8s-pod-network

# The pod reaches its gateway
ip netns exec pod1 ping -c 1 -w 3 10.244.1.1

# Side by side: by hand and by the plugin
ip netns exec node1 ip -br addr show

# CNI DEL: take pod1 out again
ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON

# After DEL: no address file, no CNI chain
test ! -e "$LAB"/cni/k8s-pod-network/10.244.1.2 && echo 'address released'; ip netns exec node1 iptables -t nat -S | grep -c '^-N CNI-' || true

# === Clean-up ===

# Delete the namespace pod1
ip netns del pod1
# Delete the namespace node1
ip netns del node1

# The script's own folder
rm -rf "$LAB"

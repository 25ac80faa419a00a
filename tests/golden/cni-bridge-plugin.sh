#!/usr/bin/env bash
# cni-bridge-plugin: The real thing: the CNI bridge plugin, called by hand
# Run the same bridge plugin that Kubernetes clusters use, exactly as a container runtime calls it:
# ADD wires a pod into the node, CHECK asks whether it is still wired as reported (and says what is
# not), DEL takes the pod out and may safely be run again. Compare what it built with the lab we
# built by hand in bridge-gateway-nat, then wire a second pod with the configuration flannel hands
# the plugin, and take it out again.
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

# CHECK with a CNI_PATH that has no host-local: the bridge plugin cannot find its IPAM plugin
{ python3 -c 'import json, sys; c = json.load(sys.stdin); c["prevResult"] = json.load(open(sys.argv[1])); print(json.dumps(c))' "$LAB"/cni-result.json <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/nonexistent/cni-plugins /usr/lib/cni/bridge || echo "(failed, as this step expects)"

# What the plugin made on the node
ip netns exec node1 ip link show

# The pod's bridge port allows hairpin traffic
ip netns exec node1 bridge -d link show

# The pod's routes
ip netns exec pod1 ip route show

# The plugin's masquerade rules
ip netns exec node1 iptables -t nat -S

# The chain's name: CNI- and 24 hex digits of a SHA-512 of network name and container id
chain=CNI-$(printf '%s' k8s-pod-networkpod1 | sha512sum | cut -c1-24) && ip netns exec node1 iptables -t nat -S "$chain"

# The address host-local has handed out
ls "$LAB"/cni/k8s-pod-network

# The pod reaches its gateway
ip netns exec pod1 ping -c 1 -w 3 10.244.1.1

# Side by side: by hand and by the plugin
ip netns exec node1 ip -br addr show

# Break pod1: delete its default route
ip netns exec pod1 ip route del default

# CNI CHECK now fails and says what is missing
{ python3 -c 'import json, sys; c = json.load(sys.stdin); c["prevResult"] = json.load(open(sys.argv[1])); print(json.dumps(c))' "$LAB"/cni-result.json <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge || echo "(failed, as this step expects)"

# Put the default route back, and CHECK is silent again
ip netns exec pod1 ip route add default via 10.244.1.1
{ python3 -c 'import json, sys; c = json.load(sys.stdin); c["prevResult"] = json.load(open(sys.argv[1])); print(json.dumps(c))' "$LAB"/cni-result.json <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge

# CNI DEL: take pod1 out again
ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON

# CNI DEL once more: nothing left to remove, and still success
ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}
NETLESSONS_JSON
echo "exit status $?"

# After DEL: no address file, no CNI chain
test ! -e "$LAB"/cni/k8s-pod-network/10.244.1.2 && echo 'address released'; ip netns exec node1 iptables -t nat -S | grep -c '^-N CNI-' || true

# Create the namespace pod2
ip netns add pod2

# CNI ADD for pod2, with the configuration flannel hands the bridge plugin
ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <<NETLESSONS_JSON | tee "$LAB"/cni-result-pod2.json
{"cniVersion": "1.0.0", "name": "cbr0", "type": "bridge", "isGateway": true, "isDefaultGateway": true, "hairpinMode": true, "ipMasq": false, "mtu": 1450, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]], "dataDir": "$LAB/cni", "routes": [{"dst": "10.244.0.0/16"}]}}
NETLESSONS_JSON

# pod2's routes: the default route from isDefaultGateway
ip netns exec pod2 ip route show

# No CNI- chain for pod2: with ipMasq false the plugin leaves NAT alone
ip netns exec node1 iptables -t nat -S | grep -c '^-N CNI-' || true

# host-local on its own: CHECK pod2's address reservation
{ python3 -c 'import json, sys; c = json.load(sys.stdin); c["prevResult"] = json.load(open(sys.argv[1])); print(json.dumps(c))' "$LAB"/cni-result-pod2.json <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "cbr0", "type": "bridge", "isGateway": true, "isDefaultGateway": true, "hairpinMode": true, "ipMasq": false, "mtu": 1450, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]], "dataDir": "$LAB/cni", "routes": [{"dst": "10.244.0.0/16"}]}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/host-local && echo "exit status $?" && cat "$LAB"/cni/cbr0/10.244.1.2 | tr -s '\r\n' ' '; echo

# pod2 reaches its gateway
ip netns exec pod2 ping -c 1 -w 3 10.244.1.1

# CNI DEL for pod2: the node is clean again
ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "cbr0", "type": "bridge", "isGateway": true, "isDefaultGateway": true, "hairpinMode": true, "ipMasq": false, "mtu": 1450, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]], "dataDir": "$LAB/cni", "routes": [{"dst": "10.244.0.0/16"}]}}
NETLESSONS_JSON
ls "$LAB"/cni/cbr0 && ip netns del pod2

# === Clean-up ===

# Delete the namespace pod1
ip netns del pod1
# Delete the namespace node1
ip netns del node1

# The script's own folder
rm -rf "$LAB"

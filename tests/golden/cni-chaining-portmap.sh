#!/usr/bin/env bash
# cni-chaining-portmap: A CNI plugin chain: bridge, then portmap for a hostPort, then bandwidth
# Write a network configuration list (.conflist) of three plugins and run it by hand the way a
# container runtime does: bridge wires the pod in, portmap gives it a hostPort that a client outside
# the node reaches, bandwidth shapes its traffic with tc. Each plugin gets the previous one's
# result; CHECK asks all three whether the pod is still as they left it, and DEL runs them in
# reverse order.
# Printed by netlessons 0.1.0.
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
set -euo pipefail
# The files this script writes (server logs, pid files, a plugin's data) go to a fresh folder of
# its own, which nobody else can have prepared.
LAB=$(mktemp -d)

# === Builds on cni-bridge-plugin: The real thing: the CNI bridge plugin, called by hand ===

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

# === A CNI plugin chain: bridge, then portmap for a hostPort, then bandwidth ===

# A client outside the node, wired to node1's eth0
ip netns add client
ip netns exec node1 ip link add eth0 type veth peer name eth0 netns client

# Address and switch on eth0 in node1
ip netns exec node1 ip addr add 192.168.0.1/24 dev eth0 && ip netns exec node1 ip link set eth0 up
# Address and switch on eth0 in client
ip netns exec client ip addr add 192.168.0.2/24 dev eth0 && ip netns exec client ip link set eth0 up

# The network configuration list: bridge, portmap, bandwidth
python3 -m json.tool --indent 2 >"$LAB"/10-k8s-pod-network.conflist <<NETLESSONS_JSON
{"cniVersion": "1.0.0", "name": "k8s-pod-network", "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true, "ipam": {"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": "$LAB/cni", "routes": [{"dst": "0.0.0.0/0"}]}}, {"type": "portmap", "capabilities": {"portMappings": true}}, {"type": "bandwidth", "capabilities": {"bandwidth": true}}]}
NETLESSONS_JSON
grep -v '"dataDir"' "$LAB"/10-k8s-pod-network.conflist

# ADD, plugin 1 of 3: bridge wires pod1 in
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 0 bridge <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge | tee "$LAB"/pod1-bridge.json

# What the runtime hands portmap
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 1 portmap "$LAB"/pod1-bridge.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | python3 -c 'import json, sys; c = json.load(sys.stdin); print(*sorted(c)); print(json.dumps(c["runtimeConfig"])); print(c["prevResult"]["ips"][0]["address"])'

# ADD, plugin 2 of 3: portmap forwards node1's port 8080 to pod1's port 80
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 1 portmap "$LAB"/pod1-bridge.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/portmap | tee "$LAB"/pod1-portmap.json

# portmap's chains in node1's nat table
ip netns exec node1 iptables -t nat -S | grep -E 'HOSTPORT|CNI-DN'

# A web server on pod1's port 80, with a 262144-byte file
mkdir -p "$LAB"/www-web-pod1
ip netns exec pod1 python3 -m http.server 80 --bind 0.0.0.0 --directory "$LAB"/www-web-pod1 >"$LAB"/web-pod1.log 2>&1 &
echo $! >"$LAB"/web-pod1.pid
for _ in $(seq 100); do ip netns exec pod1 ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.1; done
head -c 262144 /dev/zero >"$LAB"/www-web-pod1/blob

# The client fetches a page from node1's port 8080
ip netns exec client curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' http://192.168.0.1:8080/

# ADD, plugin 3 of 3: bandwidth shapes pod1's traffic
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 2 bandwidth "$LAB"/pod1-portmap.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bandwidth | tee "$LAB"/pod1-result.json

# The ifb's name: bwp and the start of a SHA-512 of network name and container id
printf '%s' k8s-pod-networkpod1 | sha512sum | cut -c1-12 && ip netns exec node1 ip -br link show type ifb

# The queueing disciplines bandwidth installed
ip netns exec node1 tc qdisc show | grep -E 'tbf|ingress' | sed 's/ *$//'

# The filter that hands pod1's packets to the ifb
veth=$(ip netns exec node1 ip -o link show | awk -F': ' -v n="$(ip netns exec pod1 cat /sys/class/net/eth0/iflink)" '$1 == n {sub(/@.*/, "", $2); print $2}') && ip netns exec node1 tc filter show dev "$veth" ingress

# The client downloads the 262144-byte file through the hostPort
ip netns exec client curl -sS --max-time 20 -o /dev/null -w '%{http_code}\n' http://192.168.0.1:8080/blob
ip netns exec node1 tc -s qdisc show dev bwpb3d8bf215493 | awk '/overlimits/ {gsub(/[(),]/, ""); for (i = 1; i < NF; i++) if ($i == "overlimits") print ($(i + 1) > 0 ? "the tbf held packets back: overlimits above 0" : "no overlimits")}'

# CHECK, plugin 1 of 3: bridge
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 0 bridge "$LAB"/pod1-result.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge && echo 'bridge: as reported'

# CHECK, plugin 2 of 3: portmap fails, on a bug of this version
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 1 portmap "$LAB"/pod1-result.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/portmap || echo "(failed, as this step expects)"

# CHECK, plugin 3 of 3: bandwidth, asked by hand
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 2 bandwidth "$LAB"/pod1-result.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=CHECK CNI_CONTAINERID=pod1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bandwidth && echo 'bandwidth: as reported'

# A second pod, pod2, through the same chain (hostPort 8081)
ip netns add pod2
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 0 bridge <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge | tee "$LAB"/pod2-bridge.json >/dev/null
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 1 portmap "$LAB"/pod2-bridge.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/portmap | tee "$LAB"/pod2-portmap.json >/dev/null
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 2 bandwidth "$LAB"/pod2-portmap.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=ADD CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bandwidth | tee "$LAB"/pod2-bandwidth.json >/dev/null

# DEL, last plugin first: bandwidth lets go of pod2
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 2 bandwidth "$LAB"/pod2-bandwidth.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bandwidth
# DEL, last plugin first: portmap lets go of pod2
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 1 portmap "$LAB"/pod2-bandwidth.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/portmap
# DEL, last plugin first: bridge lets go of pod2
{ python3 -c 'import json, sys
net = json.load(open(sys.argv[1])); conf = dict(net["plugins"][int(sys.argv[2])])
if conf["type"] != sys.argv[3]: sys.exit("plugin " + sys.argv[2] + " of the list is " + conf["type"])
caps = conf.pop("capabilities", {}); runtime = json.load(sys.stdin)
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf.update({"runtimeConfig": {k: v for k, v in runtime.items() if caps.get(k)}} if caps else {})
conf.update({"prevResult": json.load(open(sys.argv[4]))} if sys.argv[4:] else {})
print(json.dumps(conf))' "$LAB"/10-k8s-pod-network.conflist 0 bridge "$LAB"/pod2-bandwidth.json <<'NETLESSONS_JSON'
{"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 4000000, "egressBurst": 80000}}
NETLESSONS_JSON
} | ip netns exec node1 env CNI_COMMAND=DEL CNI_CONTAINERID=pod2 CNI_NETNS=/run/netns/pod2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge

# pod1 keeps its chain, its ifb and its hostPort
ip netns exec node1 iptables -t nat -S CNI-HOSTPORT-DNAT && ip netns exec node1 ip -br link show type ifb

# === Clean-up ===

# Stop the web server in pod1
kill "$(cat "$LAB"/web-pod1.pid)"

# Delete the namespace pod1
ip netns del pod1
# Delete the namespace pod2
ip netns del pod2
# Delete the namespace client
ip netns del client
# Delete the namespace node1
ip netns del node1

# The script's own folder
rm -rf "$LAB"

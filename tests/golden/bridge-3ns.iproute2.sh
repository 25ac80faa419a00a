#!/usr/bin/env bash
# bridge-3ns: A bridge: three namespaces on one virtual switch
# Create a bridge, plug three namespaces into it with one veth pair each, give them addresses in one
# subnet and ping between all of them.
# Printed by netlessons 0.1.0 (flavor iproute2).
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
set -euo pipefail

# === A bridge: three namespaces on one virtual switch ===

# Create the bridge br0
# Erratum: The post says a bridge cannot connect interfaces on different hosts. It can: its ports
# must be interfaces of this machine, but a physical network card or a VXLAN device as a port
# carries the switch to other hosts (the CNI bridge plugin's own README mentions bridging to the
# host's interface).
ip link add br0 type bridge

# List the bridges
bridge link show

# Find br0 among the links
ip link show

# Switch on br0
ip link set dev br0 up

# Create the namespace ns1
ip netns add ns1
# Create the namespace ns2
ip netns add ns2
# Create the namespace ns3
ip netns add ns3

# Create the pair veth1_0 / veth1_1
ip link add veth1_0 type veth peer name veth1_1
# Create the pair veth2_0 / veth2_1
ip link add veth2_0 type veth peer name veth2_1
# Create the pair veth3_0 / veth3_1
ip link add veth3_0 type veth peer name veth3_1

# Switch on veth1_0
ip link set veth1_0 up
# Switch on veth1_1
ip link set veth1_1 up
# Switch on veth2_0
ip link set veth2_0 up
# Switch on veth2_1
ip link set veth2_1 up
# Switch on veth3_0
ip link set veth3_0 up
# Switch on veth3_1
ip link set veth3_1 up

# Plug veth1_0 into br0
ip link set veth1_0 master br0
# Plug veth2_0 into br0
ip link set veth2_0 master br0
# Plug veth3_0 into br0
ip link set veth3_0 master br0

# Move veth1_1 into ns1
ip link set veth1_1 netns ns1
# Move veth2_1 into ns2
ip link set veth2_1 netns ns2
# Move veth3_1 into ns3
ip link set veth3_1 netns ns3

# Give veth1_1 the address 10.0.0.1/24
ip netns exec ns1 ip addr add 10.0.0.1/24 dev veth1_1
# Switch on veth1_1 in ns1
ip netns exec ns1 ip link set dev veth1_1 up
# Give veth2_1 the address 10.0.0.2/24
ip netns exec ns2 ip addr add 10.0.0.2/24 dev veth2_1
# Switch on veth2_1 in ns2
ip netns exec ns2 ip link set dev veth2_1 up
# Give veth3_1 the address 10.0.0.3/24
ip netns exec ns3 ip addr add 10.0.0.3/24 dev veth3_1
# Switch on veth3_1 in ns3
ip netns exec ns3 ip link set dev veth3_1 up

# Ping 10.0.0.2 from ns1
# Erratum: The post's pings have no count; ours stop after one reply (-c 1) and give up after 3 s
# (-w 3).
ip netns exec ns1 ping -c 1 -w 3 10.0.0.2
# Ping 10.0.0.3 from ns1
ip netns exec ns1 ping -c 1 -w 3 10.0.0.3
# Ping 10.0.0.3 from ns2
ip netns exec ns2 ping -c 1 -w 3 10.0.0.3

# === Clean-up ===

# Delete the namespace ns1
ip netns del ns1
# Delete the namespace ns2
ip netns del ns2
# Delete the namespace ns3
ip netns del ns3

# Switch off br0
ip link set dev br0 down

# Delete br0
ip link del br0

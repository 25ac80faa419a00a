#!/usr/bin/env bash
# veth-pair: veth pairs: a virtual cable between two namespaces
# Create a veth pair, move one end into each namespace, give both ends an address and ping across.
# Builds on the two namespaces of netns-basics.
# Printed by netlessons 0.1.0.
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
set -euo pipefail

# === Builds on netns-basics: Network namespaces: a private network stack ===

# Create the namespace ns1
# Erratum: The post says `ip` creates namespaces with the clone() system call. It does not:
# iproute2's `ip netns add` calls unshare(CLONE_NEWNET) and bind-mounts the new namespace
# (/proc/self/ns/net) onto /run/netns/NAME (clone() with CLONE_NEWNET is how a container runtime may
# start a process in a new namespace).
ip netns add ns1

# List the namespaces
ip netns list

# Look at the interfaces inside ns1
ip netns exec ns1 ip link show

# Ping 127.0.0.1 while lo is down: it must fail
# Erratum: The post runs ping with no count, which never stops by itself once replies come. Every
# ping here carries a count: -c 1 stops after one reply, and -w 3 gives up after three seconds (a
# ping that is meant to fail sends a single probe and waits one second, -W 1).
ip netns exec ns1 ping -c 1 -W 1 127.0.0.1 || echo "(failed, as this step expects)"

# Switch on the loopback in ns1
ip netns exec ns1 ip link set lo up

# Ping 127.0.0.1 again
ip netns exec ns1 ping -c 1 -w 3 127.0.0.1

# Create a second namespace, ns2
ip netns add ns2

# List the namespaces again
ip netns list

# === veth pairs: a virtual cable between two namespaces ===

# Create the veth pair veth1 / veth2
ip link add veth1 type veth peer name veth2

# Switch on veth1
ip link set veth1 up
# Switch on veth2
ip link set veth2 up

# See both ends here
# Erratum: The post's listing has M-DOWN and `qdisc noop` on both ends: M-DOWN means the peer is
# down, and `qdisc noop` means the device itself is down. So it was taken before the two `up`
# commands, not after them (its `state UP` fits neither moment). Here, after them, the flags read
# UP,LOWER_UP.
ip link show

# Move veth1 into ns1
ip link set veth1 netns ns1

# Look inside ns1
# Erratum: The post's listing ends this line with `link-netns ns2`, which cannot be right at this
# moment: veth2 has not moved yet, so the peer is still in the starting namespace, shown as `link-
# netnsid 0`. Only after the next move does ns1 see its peer in ns2.
ip netns exec ns1 ip link show

# Move veth2 into ns2
ip link set veth2 netns ns2

# Look inside ns2
ip netns exec ns2 ip link show

# Give veth1 the address 10.0.0.1/24
ip netns exec ns1 ip addr add 10.0.0.1/24 dev veth1

# Switch veth1 on again
ip netns exec ns1 ip link set dev veth1 up

# Give veth2 the address 10.0.0.2/24
# Erratum: The post's line stops after `ip addr add`; the address and the device are missing. This
# is the full line.
ip netns exec ns2 ip addr add 10.0.0.2/24 dev veth2

# Switch veth2 on
# Erratum: The post leaves this line out; the ping only works with it.
ip netns exec ns2 ip link set dev veth2 up

# Ping 10.0.0.2 from ns1
# Erratum: The post's ping has no count; ours stops after one reply (-c 1) and gives up after 3 s
# (-w 3).
ip netns exec ns1 ping -c 1 -w 3 10.0.0.2

# === Clean-up ===

# Delete the namespace ns1
ip netns del ns1
# Delete the namespace ns2
ip netns del ns2

# Try to delete veth1: it is already gone
# Erratum: In the post these two lines look like needed clean-up; they fail, because the namespaces
# took the pair with them.
ip link del veth1 || echo "(failed, as this step expects)"
# Try to delete veth2: it is already gone
ip link del veth2 || echo "(failed, as this step expects)"

#!/usr/bin/env bash
# netns-basics: Network namespaces: a private network stack
# Create a network namespace, look inside it, find its loopback switched off, switch it on, and make
# a second namespace for the next lesson.
# Printed by netlessons 0.1.0.
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
set -euo pipefail

# === Network namespaces: a private network stack ===

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

# === Clean-up ===

# Delete the namespace ns1
ip netns del ns1
# Delete the namespace ns2
ip netns del ns2

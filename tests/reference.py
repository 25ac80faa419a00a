"""The command tables of the post (shared/reference/lessons-from-the-post.md), without sudo, in order."""

NETNS_BASICS = [
    "ip netns add ns1",
    "ip netns list",
    "ip netns exec ns1 ip link show",
    "ip netns exec ns1 ping 127.0.0.1",
    "ip netns exec ns1 ip link set lo up",
    "ip netns exec ns1 ping 127.0.0.1",
    "ip netns add ns2",
    "ip netns list",
]

VETH_PAIR = [
    "ip link add veth1 type veth peer name veth2",
    "ip link set veth1 up",
    "ip link set veth2 up",
    "ip link show",
    "ip link set veth1 netns ns1",
    "ip netns exec ns1 ip link show",
    "ip link set veth2 netns ns2",
    "ip netns exec ns2 ip link show",
    "ip netns exec ns1 ip addr add 10.0.0.1/24 dev veth1",
    "ip netns exec ns1 ip link set dev veth1 up",
    "ip netns exec ns2 ip addr add 10.0.0.2/24 dev veth2",
    "ip netns exec ns2 ip link set dev veth2 up",
    "ip netns exec ns1 ping 10.0.0.2",
]
VETH_PAIR_CLEANUP = ["ip netns del ns1", "ip netns del ns2", "ip link del veth1", "ip link del veth2"]

BRIDGE_3NS = (
    ["brctl addbr br0", "brctl show", "ip link show", "ip link set dev br0 up"]
    + [f"ip netns add ns{i}" for i in (1, 2, 3)]
    + [f"ip link add veth{i}_0 type veth peer name veth{i}_1" for i in (1, 2, 3)]
    + [f"ip link set veth{i}_{end} up" for i in (1, 2, 3) for end in (0, 1)]
    + [f"brctl addif br0 veth{i}_0" for i in (1, 2, 3)]
    + [f"ip link set veth{i}_1 netns ns{i}" for i in (1, 2, 3)]
    + [line for i in (1, 2, 3) for line in (f"ip netns exec ns{i} ip addr add 10.0.0.{i}/24 dev veth{i}_1",
                                             f"ip netns exec ns{i} ip link set dev veth{i}_1 up")]
    + ["ip netns exec ns1 ping 10.0.0.2", "ip netns exec ns1 ping 10.0.0.3", "ip netns exec ns2 ping 10.0.0.3"]
)
BRIDGE_3NS_CLEANUP = ["ip netns del ns1", "ip netns del ns2", "ip netns del ns3", "ip link set dev br0 down",
                      "brctl delbr br0"]

# lesson → (its own commands, the post's clean-up for it)
TABLES = {
    "netns-basics": (NETNS_BASICS, []),
    "veth-pair": (VETH_PAIR, VETH_PAIR_CLEANUP),
    "bridge-3ns": (BRIDGE_3NS, BRIDGE_3NS_CLEANUP),
}

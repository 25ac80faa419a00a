#!/usr/bin/env bash
# network-policy: NetworkPolicy as a controller writes it: ipsets of pods, a chain per pod, default deny
# Three pods on one node's bridge, each labelled. A NetworkPolicy selects the web pod and allows
# ingress only from pods labelled role=frontend on TCP 8080, and egress only to pods labelled app=db
# on TCP 8080. We write what a policy controller (kube-router, Calico's iptables mode) writes for
# it: one ipset per label selector, a dispatch chain hooked into FORWARD, an ingress and an egress
# chain for the selected pod ending in REJECT, and the rule that lets replies through. First without
# that rule, to watch the replies die; then counters show who was refused, and relabelling a pod
# (one ipset member) changes who may talk.
# Printed by netlessons 0.1.0.
# It changes this machine's network: run it as root, or inside a throwaway sandbox:
#   sudo unshare --net --mount bash -c 'mount -t tmpfs none /run/netns 2>/dev/null || mount -t tmpfs none /run && mkdir -p /run/netns; bash SCRIPT'
# It needs these kernel features (a sandbox cannot load modules): br_netfilter (CONFIG_BRIDGE_NETFILTER).
set -euo pipefail
# The files this script writes (server logs, pid files, a plugin's data) go to a fresh folder of
# its own, which nobody else can have prepared.
LAB=$(mktemp -d)

# === NetworkPolicy as a controller writes it: ipsets of pods, a chain per pod, default deny ===

# Create the namespace node1
ip netns add node1 && ip netns exec node1 ip link set lo up
# Create the namespace web
ip netns add web && ip netns exec web ip link set lo up
# Create the namespace client
ip netns add client && ip netns exec client ip link set lo up
# Create the namespace db
ip netns add db && ip netns exec db ip link set lo up

# The bridge cni0 in node1, with the gateway 10.244.1.1/24
ip netns exec node1 ip link add cni0 type bridge && ip netns exec node1 ip addr add 10.244.1.1/24 dev cni0 && ip netns exec node1 ip link set cni0 up

# Pod web (app=web): 10.244.1.2/24 behind veth-web
ip netns exec node1 ip link add veth-web type veth peer name eth0 netns web && ip netns exec node1 ip link set veth-web master cni0 && ip netns exec node1 ip link set veth-web up && ip netns exec web ip addr add 10.244.1.2/24 dev eth0 && ip netns exec web ip link set eth0 up
# Pod client (role=frontend): 10.244.1.3/24 behind veth-client
ip netns exec node1 ip link add veth-client type veth peer name eth0 netns client && ip netns exec node1 ip link set veth-client master cni0 && ip netns exec node1 ip link set veth-client up && ip netns exec client ip addr add 10.244.1.3/24 dev eth0 && ip netns exec client ip link set eth0 up
# Pod db (app=db): 10.244.1.4/24 behind veth-db
ip netns exec node1 ip link add veth-db type veth peer name eth0 netns db && ip netns exec node1 ip link set veth-db master cni0 && ip netns exec node1 ip link set veth-db up && ip netns exec db ip addr add 10.244.1.4/24 dev eth0 && ip netns exec db ip link set eth0 up

# Let bridged traffic meet iptables in node1
ip netns exec node1 sysctl -w net.bridge.bridge-nf-call-iptables=1

# A web server in web that answers 'web'
mkdir -p "$LAB"/www-np-web && printf '%s\n' web >"$LAB"/www-np-web/index.html
ip netns exec web python3 -m http.server 8080 --bind 0.0.0.0 --directory "$LAB"/www-np-web >"$LAB"/np-web.log 2>&1 &
echo $! >"$LAB"/np-web.pid
for _ in $(seq 100); do ip netns exec web ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done
# A web server in client that answers 'client'
mkdir -p "$LAB"/www-np-client && printf '%s\n' client >"$LAB"/www-np-client/index.html
ip netns exec client python3 -m http.server 8080 --bind 0.0.0.0 --directory "$LAB"/www-np-client >"$LAB"/np-client.log 2>&1 &
echo $! >"$LAB"/np-client.pid
for _ in $(seq 100); do ip netns exec client ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done
# A web server in db that answers 'db'
mkdir -p "$LAB"/www-np-db && printf '%s\n' db >"$LAB"/www-np-db/index.html
ip netns exec db python3 -m http.server 8080 --bind 0.0.0.0 --directory "$LAB"/www-np-db >"$LAB"/np-db.log 2>&1 &
echo $! >"$LAB"/np-db.pid
for _ in $(seq 100); do ip netns exec db ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done

# No policy yet: db reaches web
ip netns exec db curl -sS --max-time 2 http://10.244.1.2:8080/

# An ipset per selector: np-role-frontend holds client, np-app-db holds db
ip netns exec node1 ipset create np-role-frontend hash:ip && ip netns exec node1 ipset add np-role-frontend 10.244.1.3 && ip netns exec node1 ipset list np-role-frontend | grep -v '^Header:'
ip netns exec node1 ipset create np-app-db hash:ip && ip netns exec node1 ipset add np-app-db 10.244.1.4 && ip netns exec node1 ipset list np-app-db | grep -v '^Header:'

# Create the chain NP-FORWARD
ip netns exec node1 iptables -t filter -N NP-FORWARD
# Create the chain NP-WEB-INGRESS
ip netns exec node1 iptables -t filter -N NP-WEB-INGRESS
# Create the chain NP-WEB-EGRESS
ip netns exec node1 iptables -t filter -N NP-WEB-EGRESS

# NP-WEB-INGRESS: role=frontend on TCP 8080 is accepted, the rest refused
ip netns exec node1 iptables -t filter -A NP-WEB-INGRESS -p tcp -m set --match-set np-role-frontend src --dport 8080 -j ACCEPT
ip netns exec node1 iptables -t filter -A NP-WEB-INGRESS -j REJECT

# NP-WEB-EGRESS: to app=db on TCP 8080 is accepted, the rest refused
ip netns exec node1 iptables -t filter -A NP-WEB-EGRESS -p tcp -m set --match-set np-app-db dst --dport 8080 -j ACCEPT
ip netns exec node1 iptables -t filter -A NP-WEB-EGRESS -j REJECT

# NP-FORWARD: to web → NP-WEB-INGRESS, from web → NP-WEB-EGRESS
ip netns exec node1 iptables -t filter -A NP-FORWARD -d 10.244.1.2/32 -j NP-WEB-INGRESS
ip netns exec node1 iptables -t filter -A NP-FORWARD -s 10.244.1.2/32 -j NP-WEB-EGRESS

# Hook NP-FORWARD into FORWARD
ip netns exec node1 iptables -t filter -I FORWARD 1 -j NP-FORWARD

# The trap: client's request is let in, web's reply is refused
ip netns exec client curl -sS --max-time 0.5 http://10.244.1.2:8080/ 2>/dev/null || echo "no answer: curl exit status $?"

# Accept ESTABLISHED and RELATED first, in NP-FORWARD
ip netns exec node1 iptables -t filter -I NP-FORWARD 1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT

# client → web:8080: answered
ip netns exec client curl -sS --max-time 2 http://10.244.1.2:8080/

# db → web:8080: refused by web's ingress chain
ip netns exec db curl -sS --max-time 1 http://10.244.1.2:8080/ 2>/dev/null || echo "refused: curl exit status $?"

# web → db:8080: allowed by the egress rule
ip netns exec web curl -sS --max-time 2 http://10.244.1.4:8080/

# web → client:8080: refused by web's egress chain
ip netns exec web curl -sS --max-time 1 http://10.244.1.3:8080/ 2>/dev/null || echo "refused: curl exit status $?"

# Label db role=frontend: its address joins np-role-frontend
ip netns exec node1 ipset add np-role-frontend 10.244.1.4 && ip netns exec node1 ipset test np-role-frontend 10.244.1.4

# db → web:8080: answered now
ip netns exec db curl -sS --max-time 2 http://10.244.1.2:8080/

# Remove the label again: db leaves the set and is refused
ip netns exec node1 ipset del np-role-frontend 10.244.1.4 && { ip netns exec db curl -sS --max-time 1 http://10.244.1.2:8080/ 2>/dev/null || echo "refused: curl exit status $?"; }

# The whole policy as iptables shows it, with counters
ip netns exec node1 iptables -t filter -S | grep NP- && ip netns exec node1 iptables -t filter -L NP-WEB-INGRESS -v -n -x

# === Clean-up ===

# Stop the web server in web
kill "$(cat "$LAB"/np-web.pid)"
# Stop the web server in client
kill "$(cat "$LAB"/np-client.pid)"
# Stop the web server in db
kill "$(cat "$LAB"/np-db.pid)"

# Delete the namespace web
ip netns del web
# Delete the namespace client
ip netns del client
# Delete the namespace db
ip netns del db
# Delete the namespace node1
ip netns del node1

# The script's own folder
rm -rf "$LAB"

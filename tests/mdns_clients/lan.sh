#!/bin/sh
# A LAN without a router, for tests/mdns.rs. Run it as `unshare -rnm sh lan.sh` (network and
# mount namespaces of its own inside an unprivileged user namespace): it joins this namespace
# (the server's: v0 up, no IPv4 address, no default route) and a nested one (the peer's: v1,
# 192.0.2.2/24, the multicast range routed on v1 as a LAN host has it) with a veth pair, prints
# `peer PID` (a process in the peer's namespace, for nsenter) and waits until that process ends.
# /sys is mounted again so that /sys/class/net lists this namespace's interfaces (sysfs shows
# those of the namespace that mounted it), as `ip netns exec` does.
set -eu
mount -t sysfs sysfs /sys
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 up
unshare -n sleep 600 &
peer=$!
while [ "$(readlink /proc/$peer/ns/net)" = "$(readlink /proc/$$/ns/net)" ]; do sleep 0.05; done
ip link set v1 netns "$peer"
nsenter -t "$peer" -n sh -c 'ip link set lo up && ip addr add 192.0.2.2/24 dev v1 &&
  ip link set v1 up && ip route add 224.0.0.0/4 dev v1'
echo "peer $peer"
wait

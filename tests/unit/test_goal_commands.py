"""Which commands become goals: one that can fail, not one that says something else and exits 0 either way."""

from netlessons.goals import _one_reach


def test_a_single_request_or_lookup_is_a_goal():
    assert _one_reach("ip netns exec pod1 ping -c 1 -w 3 10.244.2.2")
    assert _one_reach("ip netns exec pod1 curl -sS --max-time 2 -o /dev/null -w '%{http_code}\\n' http://x/")
    assert _one_reach("ip netns exec pod1 timeout 3 getent hosts web")
    # repeated, its answers counted: with pipefail the last request decides
    assert _one_reach("for _ in $(seq 20); do ip netns exec node1 curl -sS http://1.2.3.4/; done | sort -u")


def test_a_failure_shown_on_purpose_or_a_count_around_a_ping_is_not():
    assert not _one_reach("ip netns exec pod1 ping -c 1 -W 1 10.244.2.2 || true")
    assert not _one_reach("ip netns exec pod1 curl -sS --max-time 2 http://10.96.0.101/ || echo 'no answer'")
    assert not _one_reach("a=$(cat /sys/class/net/x/statistics/tx_dropped); ip netns exec pod1 ping -c 1 10.0.0.2; "
                          "b=$(cat /sys/class/net/x/statistics/tx_dropped); echo $((b - a))")
    assert not _one_reach("ip netns exec pod1 ip route show")

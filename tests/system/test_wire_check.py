#!/usr/bin/env python3
"""Tests wire_check.py's rule for 4-byte packet numbers on made-up datagrams: a side must use them
while it sends on both paths of a migration, and may go back to the short encoding as soon as it
sends on one path only, before its RETIRE_CONNECTION_ID for the old path leaves (a capture of a
migration over IPv6 had two such packets, which the check took for a broken promise).

usage: test_wire_check.py   (exit 0 when every case holds)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire_check as wc  # noqa: E402

OLD, NEW, SERVER = ("fd7e::2", 40001), ("fd7e::3", 40002), ("::1", 4433)
RETIRE = wc.RETIRE_CONNECTION_ID


def dgram(no, t, src, pn_len, frames=(0x02,), long_header=False):
    """One datagram as capture.sh's tshark columns give it."""
    f = dict.fromkeys(wc.FIELD_NAMES, "")
    f.update({"frame.number": str(no), "frame.time_relative": "%.6f" % t,
              "ipv6.src": src[0], "udp.srcport": str(src[1]), "ipv6.dst": SERVER[0],
              "udp.dstport": str(SERVER[1]), "udp.length": "1208",
              "quic.header_form": "1" if long_header else "0",
              "quic.packet_number_length": str(pn_len - 1),
              "quic.frame_type": ",".join(str(x) for x in frames)})
    return wc.Dgram([f[n] for n in wc.FIELD_NAMES])


failed = []


def expect(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failed.append(what)


# The client's second migration as captured: challenge on the new path, the last datagram on the
# old one (a PATH_RESPONSE), the old path removed, two ACK-only packets with 1- and 2-byte
# packet numbers, then the packet with the RETIRE_CONNECTION_ID.
seq = [dgram(1, 1.000, OLD, 4), dgram(2, 1.010, NEW, 4, (wc.PATH_CHALLENGE, wc.PADDING)),
       dgram(3, 1.020, NEW, 4, (0x02, 0x01)), dgram(4, 1.030, OLD, 4, (wc.PATH_RESPONSE,)),
       dgram(5, 1.040, NEW, 1), dgram(6, 1.050, NEW, 2), dgram(7, 1.060, NEW, 1, (RETIRE,))]
from_old = [d for d in seq if d.src == OLD]
from_new = [d for d in seq if d.src == NEW]
window = wc.both_paths_window(from_new, from_old)
expect(window == (1.010, 1.030), "the window runs from the first datagram on the new path to "
       "the last on the old one: %s" % (window,))
expect(wc.short_pn_in(seq, window) == [],
       "short packet numbers after the last datagram on the old path, before the RETIRE, pass")

# a short packet number while the old path still carries packets is broken
bad = seq[:3] + [dgram(8, 1.025, NEW, 2)] + seq[3:]
expect(wc.short_pn_in(bad, window) == [8], "a 2-byte packet number between the first datagram "
       "on the new path and the last on the old one is reported")
expect(wc.short_pn_in(seq[:2] + [dgram(9, 1.015, NEW, 4, long_header=True)], window) == [],
       "long-header packets are not counted")

# a side that never sent on the old path after its first datagram on the new one: no window
expect(wc.both_paths_window(from_new, [seq[0]]) is None, "no overlap, no window")
expect(wc.both_paths_window([], from_old) is None, "no datagram on the new path, no window")

print("%d broken" % len(failed) if failed else "every case held")
sys.exit(1 if failed else 0)

#!/usr/bin/env python3
"""Checks a decrypted capture of one tern connection with a client migration against what
docs/migration.md promises on the wire.

usage: wire_check.py FIELDS SERVER_IP SERVER_PORT CLIENT_MAX_PATHS IP1 IP2 [IP3...]

FIELDS is the output of `tshark -T fields` with the columns of FIELD_NAMES below, separated by
tabs (capture.sh makes it). The client started on IP1 and moved to each next address in turn,
removing the one it left. Prints one line per promise checked; exits 1 when any is broken,
naming the frames."""
import sys

FIELD_NAMES = [
    "frame.number", "frame.time_relative", "ip.src", "ipv6.src", "udp.srcport", "ip.dst",
    "ipv6.dst", "udp.dstport", "udp.length", "quic.header_form", "quic.packet_number_length",
    "quic.dcid", "quic.scid", "quic.frame_type", "quic.path_challenge.data",
    "quic.path_response.data", "quic.nci.sequence", "quic.nci.connection_id", "quic.rci.sequence",
    "quic.key_phase", "tls.handshake.type", "tls.quic.parameter.active_connection_id_limit",
    "quic.decryption_failed", "_ws.expert.message",
]

# RFC 9000 §9.1: the only probing frames
PADDING, NEW_CONNECTION_ID, RETIRE_CONNECTION_ID = 0x00, 0x18, 0x19
PATH_CHALLENGE, PATH_RESPONSE, HANDSHAKE_DONE = 0x1A, 0x1B, 0x1E
PROBING = {PADDING, NEW_CONNECTION_ID, PATH_CHALLENGE, PATH_RESPONSE}
NOT_ACK_ELICITING = {0x02, 0x03, PADDING, 0x1C, 0x1D}  # ACK, ACK_ECN, PADDING, CONNECTION_CLOSE
TLS_FINISHED = 20


class Dgram:
    def __init__(self, row):
        f = dict(zip(FIELD_NAMES, row + [""] * (len(FIELD_NAMES) - len(row))))
        self.no = int(f["frame.number"])
        self.t = float(f["frame.time_relative"])
        src = f["ip.src"] or f["ipv6.src"]
        dst = f["ip.dst"] or f["ipv6.dst"]
        self.src = (src, int(f["udp.srcport"]))
        self.dst = (dst, int(f["udp.dstport"]))
        self.payload = int(f["udp.length"]) - 8

        def ints(name, base=10):
            return [int(v, base) for v in f[name].split(",") if v != ""]

        def strs(name):
            return [v for v in f[name].split(",") if v != ""]

        self.forms = ints("quic.header_form")
        self.pn_lens = ints("quic.packet_number_length")
        self.dcids = strs("quic.dcid")
        self.scids = strs("quic.scid")
        self.frames = ints("quic.frame_type")
        self.challenges = strs("quic.path_challenge.data")
        self.responses = strs("quic.path_response.data")
        self.nci = list(zip(ints("quic.nci.sequence"), strs("quic.nci.connection_id")))
        self.retired = ints("quic.rci.sequence")
        self.key_phases = ints("quic.key_phase")
        self.hs_types = ints("tls.handshake.type")
        self.cid_limit = ints("tls.quic.parameter.active_connection_id_limit")
        self.decrypt_failed = f["quic.decryption_failed"] != ""
        self.expert = f["_ws.expert.message"]

    def tuple(self):
        return (self.src, self.dst)

    def probing_only(self):
        return all(t in PROBING for t in self.frames)

    def ack_eliciting(self):
        return any(t not in NOT_ACK_ELICITING for t in self.frames)

    def short_only(self):
        return self.forms == [0]


failures = []


def both_paths_window(on_new, on_old):
    """The time a side sent on both paths of one migration: from its first datagram on the new
    path to its last one on the old path (None when it never overlapped). This is when the short
    packet-number encoding could mislead the receiver (docs/migration.md): a packet on one path can
    arrive after many sent later on the other. Once a side sends on one path only, what it sends
    arrives behind everything older that it sent on that path, and anything older still in flight
    on the old path carried full-length numbers; the RFC 9000 §17.1 rule (twice the distance to
    the largest acknowledged) is enough again, whether or not its RETIRE_CONNECTION_ID for the old
    path has left yet."""
    if not on_new or not on_old or on_old[-1].t < on_new[0].t:
        return None
    return (on_new[0].t, on_old[-1].t)


def short_pn_in(ds, window):
    """Frame numbers of the 1-RTT datagrams of `ds` within `window` whose packet number is not
    4 bytes long (tshark's quic.packet_number_length is the length less one)."""
    if window is None:
        return []
    start, end = window
    return [d.no for d in ds if d.short_only() and start <= d.t <= end and d.pn_lens != [3]]


def check(ok, what, detail=""):
    print(("ok:   " if ok else "FAIL: ") + what + ("" if ok or not detail else " (" + detail + ")"))
    if not ok:
        failures.append(what)


def fmt(ep):
    return "%s:%d" % ep


def main():
    fields, server_ip, server_port, max_paths = sys.argv[1:5]
    ips = sys.argv[5:]
    server = (server_ip, int(server_port))
    max_paths = int(max_paths)
    with open(fields) as fh:
        dgrams = [Dgram(line.rstrip("\n").split("\t")) for line in fh if line.strip()]
    cli = [d for d in dgrams if d.dst == server]
    srv = [d for d in dgrams if d.src == server]
    check(len(cli) + len(srv) == len(dgrams) and cli and srv,
          "every datagram is between the client and %s" % fmt(server))
    if failures:
        return
    tuples = []  # the client's 4-tuples (its side), in the order of their first datagram
    for d in cli:
        if d.src not in tuples:
            tuples.append(d.src)
    check([t[0] for t in tuples] == ips, "the client used one 4-tuple per address, in the order "
          "%s" % " ".join(ips), " ".join(fmt(t) for t in tuples))
    if failures:
        return
    sent_from = {t: [d for d in cli if d.src == t] for t in tuples}
    sent_to = {t: [d for d in srv if d.dst == t] for t in tuples}

    # -- decryption ------------------------------------------------------------------------------
    bad = [d.no for d in dgrams if d.decrypt_failed or "decrypt" in d.expert.lower() or
           "secrets are not available" in d.expert.lower()]
    check(not bad, "no packet failed to decrypt", "frames %s" % bad[:10])
    empty = [d.no for d in dgrams if not d.frames]
    check(not empty, "every datagram's frames were decoded", "frames %s" % empty[:10])
    check(any(TLS_FINISHED in d.hs_types for d in cli) and
          any(TLS_FINISHED in d.hs_types for d in srv),
          "both Finished messages (Handshake keys) decoded")
    short = [d for d in dgrams if d.short_only()]
    # jumbo datagrams on loopback (path MTU discovery): a few hundred carry the download
    check(len(short) > 300, "1-RTT datagrams decoded: %d" % len(short))
    for side, ds in (("client", cli), ("server", srv)):
        phase1 = [d for d in ds if d.short_only() and 1 in d.key_phases]
        check(phase1 and all(d.frames for d in phase1),
              "the %s's packets after the key update decoded: %d" % (side, len(phase1)))

    # -- connection IDs: a path never uses a CID another path used (RFC 9000 §9.5) ------------
    for side, ds in (("client", cli), ("server", srv)):
        where = {}
        for d in ds:
            for c in set(d.dcids):
                where.setdefault(c, set()).add(d.tuple())
        shared = {c: sorted(fmt(t[0]) + "->" + fmt(t[1]) for t in ts)
                  for c, ts in where.items() if len(ts) > 1}
        check(not shared, "the %s never sent one DCID on two 4-tuples (%d DCIDs)" %
              (side, len(where)), str(shared))
    dcids_of = {t: {c for d in sent_from[t] for c in d.dcids} for t in tuples}

    # -- PATH_CHALLENGE / PATH_RESPONSE --------------------------------------------------------
    for side, ds in (("client", cli), ("server", srv)):
        data = [c for d in ds for c in d.challenges]
        check(data and len(set(data)) == len(data) and all(len(c) == 16 for c in data),
              "every %s PATH_CHALLENGE carries 8 new bytes (%d challenges)" % (side, len(data)))
    small = [(d.no, d.payload) for d in dgrams if (d.challenges or d.responses) and
             d.payload < 1200]
    check(not small, "every datagram with PATH_CHALLENGE or PATH_RESPONSE is padded to 1200 "
          "bytes (%d datagrams)" % sum(1 for d in dgrams if d.challenges or d.responses),
          "frame, UDP payload: %s" % small)
    sent = {}  # challenge data -> datagram
    for d in dgrams:
        for c in d.challenges:
            sent[c] = d
    answers = {}
    wrong = []
    for d in dgrams:
        for r in d.responses:
            ch = sent.get(r)
            answers[r] = answers.get(r, 0) + 1
            if not ch or ch.t > d.t or ch.tuple() != (d.dst, d.src):
                wrong.append(d.no)
    check(not wrong, "every PATH_RESPONSE answers a challenge on the 4-tuple it arrived on (%d "
          "responses)" % sum(answers.values()), "frames %s" % wrong)
    twice = [r for r, n in answers.items() if n > 1]
    check(not twice, "each challenge is answered once", str(twice))
    unanswered = []
    for c, ch in sent.items():
        if c in answers:
            continue
        if ch.src == server:
            # owed only while the client still used that 4-tuple after the challenge arrived
            later = [d for d in cli if d.src == ch.dst and d.t > ch.t + 0.001]
            if not later:
                continue
        unanswered.append(ch.no)
    check(not unanswered, "every challenge whose path stayed open was answered",
          "frames %s" % unanswered)

    # -- each migration --------------------------------------------------------------------------
    seq_of = {}
    server_scids = [c for d in srv for c in d.scids]
    if server_scids:
        seq_of[server_scids[0]] = 0  # the server's handshake CID
    for d in srv:
        for sq, c in d.nci:
            seq_of.setdefault(c, sq)
    retires = [(d, sq) for d in cli for sq in d.retired]
    retired = sorted({sq for _, sq in retires})
    done = [d for d in srv if HANDSHAKE_DONE in d.frames]
    pn_windows = []
    for old, new in zip(tuples, tuples[1:]):
        step = "%s -> %s: " % (fmt(old), fmt(new))
        from_old, from_new = sent_from[old], sent_from[new]
        to_old, to_new = sent_to[old], sent_to[new]
        check(not (dcids_of[new] & dcids_of[old]), step + "the new path took a fresh peer CID",
              str(sorted(dcids_of[new])))
        check(done and from_new[0].t > done[0].t,
              step + "the new path was probed only after the handshake was confirmed",
              "frame %d" % from_new[0].no)
        check(bool(from_new[0].challenges),
              step + "the first datagram on the new path carries a PATH_CHALLENGE",
              "frame %d" % from_new[0].no)
        cli_move = next((d for d in from_new if not d.probing_only()), None)
        check(cli_move is not None, step + "the client moved")
        if cli_move is None:
            continue
        check(cli_move.ack_eliciting(),
              step + "the client's first non-probing packet on the new path is ack-eliciting",
              "frame %d: %s" % (cli_move.no, cli_move.frames))
        early = [d.no for d in to_new if d.t < cli_move.t and not d.probing_only()]
        check(not early, step + "the server answered probes without moving",
              "frames %s" % early)
        check(any(d.challenges for d in to_new),
              step + "the server validated the client's new path from its side")
        srv_move = next((d for d in to_new if not d.probing_only()), None)
        check(srv_move is not None and srv_move.t >= cli_move.t and srv_move.ack_eliciting(),
              step + "the server followed the client with an ack-eliciting packet",
              "frame %s" % (srv_move.no if srv_move else None))
        if srv_move:
            back = [d.no for d in to_old if d.t > srv_move.t and not d.probing_only()]
            check(not back, step + "the server never moved back", "frames %s" % back[:10])
        check(any(d.challenges for d in to_old if d.t > cli_move.t),
              step + "the server challenged the old, validated path again (RFC 9000 §9.3.3)")
        back = [d.no for d in from_old if d.t > cli_move.t and not d.probing_only()]
        check(not back, step + "the client sent only probing frames on the old path after the "
              "move", "frames %s" % back[:10])
        # RETIRE_CONNECTION_ID when the old address is removed
        old_seqs = sorted({seq_of[c] for c in dcids_of[old] if c in seq_of})
        check(old_seqs and all(sq in retired for sq in old_seqs),
              step + "the client retired the old path's CIDs (sequence %s)" % old_seqs,
              "retired %s" % retired)
        first_retire = min((d for d, sq in retires if sq in old_seqs), key=lambda d: d.t,
                           default=None)
        if first_retire:
            check(first_retire.src != old and from_old[-1].t < first_retire.t,
                  step + "the RETIRE_CONNECTION_ID left on another path, after the last packet "
                  "on the old one", "retire in frame %d, last on the old path frame %d" %
                  (first_retire.no, from_old[-1].no))
        pn_windows.append((step, both_paths_window(from_new, from_old),
                           both_paths_window(to_new, to_old)))
    last_seqs = sorted({seq_of[c] for c in dcids_of[tuples[-1]] if c in seq_of})
    check(last_seqs and not any(sq in retired for sq in last_seqs),
          "the client kept the last path's CID", "%s, retired %s" % (last_seqs, retired))
    last = [d for d in srv if d.frames and not d.probing_only()][-1]
    check(last.dst == tuples[-1], "the download ended on the last path", "frame %d" % last.no)

    # -- CID supply ----------------------------------------------------------------------------
    limits = {}
    for side, ds in (("client", cli), ("server", srv)):
        lim = [v for d in ds for v in d.cid_limit]
        limits[side] = lim[0] if lim else 2
    for side, ds in (("client", cli), ("server", srv)):
        byseq = {}
        for d in ds:
            for sq, c in d.nci:
                byseq.setdefault(sq, set()).add(c)
        check(all(len(v) == 1 for v in byseq.values()) and
              len({c for v in byseq.values() for c in v}) == len(byseq),
              "the %s announced each CID under one sequence number" % side, str(byseq))
    cli_issued = len({sq for d in cli for sq, _ in d.nci}) + 1
    want = min(limits["server"], max_paths + 1)
    check(cli_issued == want, "the client issued %d CIDs (max_paths + 1, within the server's "
          "limit %d)" % (cli_issued, limits["server"]), "issued %d" % cli_issued)
    # what the server issued and the client did not retire, datagram by datagram
    issued, gone, worst = {0}, set(), 0
    for d in dgrams:
        if d.src == server:
            issued.update(sq for sq, _ in d.nci)
        else:
            gone.update(d.retired)
        worst = max(worst, len(issued - gone))
    outstanding = len(issued - gone)
    check(worst <= limits["client"], "the server never had more than the client's limit of %d "
          "CIDs out" % limits["client"], "%d" % worst)
    check(outstanding == limits["client"] - 1,
          "after %d retirements the server had replaced all but one: %d CIDs out (%d issued)" %
          (len(gone), outstanding, len(issued)))

    # -- 4-byte packet numbers while several paths are in use -------------------------------------
    for step, cli_window, srv_window in pn_windows:
        for side, ds, window in (("client", cli, cli_window), ("server", srv, srv_window)):
            short_pn = short_pn_in(ds, window)
            check(not short_pn, step + "the %s's 1-RTT packets carried 4-byte packet numbers "
                  "while it sent on both paths" % side, "frames %s" % short_pn[:10])


if __name__ == "__main__":
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    main()
    print("%d broken" % len(failures) if failures else "every promise held")
    sys.exit(1 if failures else 0)

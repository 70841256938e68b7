#!/usr/bin/env python3
"""Checks qlog files written by tern against tests/qlog/qlog-schema.json and against what a
migration must show.

    check_qlog.py [--expect-migration] FILE.sqlog...

Every file must be a JSON Text Sequence (RFC 7464): records that start with RS (0x1e) and end with
a line feed, the first the qlog header (validated as #/$defs/header), every other one an event
(#/$defs/event), their times never decreasing. With --expect-migration, the file must also hold:
packets sent and received with their frames (STREAM, ACK, CRYPTO, PATH_CHALLENGE, PATH_RESPONSE,
NEW_CONNECTION_ID), recovery metrics with an RTT, a congestion state, the TLS keys, the validation
of tuple 1 and the migration of the connection from tuple 0 to tuple 1, then 1-RTT packets sent on
tuple 1 (elsewhere only probing packets). Prints one line per file; exits 1 at the first failure."""
import json
import os
import sys

from jsonschema import Draft202012Validator, FormatChecker

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(path, msg):
    print(f"check_qlog: FAIL: {os.path.basename(path)}: {msg}")
    sys.exit(1)


def load_records(path):
    data = open(path, "rb").read()
    if not data.startswith(b"\x1e"):
        fail(path, "does not start with the RS record separator")
    records = []
    for i, chunk in enumerate(data.split(b"\x1e")[1:]):
        if not chunk.endswith(b"\n"):
            fail(path, f"record {i} does not end with a line feed")
        try:
            records.append(json.loads(chunk.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            fail(path, f"record {i} is not JSON: {e}")
    return records


def validators():
    schema = json.load(open(os.path.join(HERE, "qlog-schema.json")))
    Draft202012Validator.check_schema(schema)
    fc = FormatChecker()
    header = Draft202012Validator(dict(schema, **{"$ref": "#/$defs/header"}), format_checker=fc)
    event = Draft202012Validator(dict(schema, **{"$ref": "#/$defs/event"}), format_checker=fc)
    return header, event


def check_migration(path, events, vantage):
    names = {}
    for e in events:
        names.setdefault(e["name"], []).append(e)
    for n in ("quic:connection_started", "quic:packet_sent", "quic:packet_received",
              "quic:recovery_metrics_updated", "quic:congestion_state_updated",
              "quic:key_updated", "quic:tuple_assigned", "quic:migration_state_updated",
              "quic:connection_closed"):
        if n not in names:
            fail(path, f"no {n} event")
    frames_seen = set()
    for e in names["quic:packet_sent"] + names["quic:packet_received"]:
        for f in e["data"]["frames"]:
            frames_seen.add(f["frame_type"])
    for ft in ("stream", "ack", "crypto", "path_challenge", "path_response", "new_connection_id",
               "padding", "connection_close"):
        if ft not in frames_seen:
            fail(path, f"no {ft} frame in any packet (seen: {sorted(frames_seen)})")
    if not any("smoothed_rtt" in e["data"] for e in names["quic:recovery_metrics_updated"]):
        fail(path, "recovery_metrics_updated never reports smoothed_rtt")
    if not any("congestion_window" in e["data"] and "bytes_in_flight" in e["data"]
               for e in names["quic:recovery_metrics_updated"]):
        fail(path, "recovery_metrics_updated never reports the window and bytes in flight")
    keys = {e["data"]["key_type"] for e in names["quic:key_updated"]}
    for side in ("client", "server"):
        for level in ("initial", "handshake", "1rtt"):
            if f"{side}_{level}_secret" not in keys:
                fail(path, f"no key_updated for {side}_{level}_secret")
    tuples = {e["data"]["tuple_id"]: e for e in names["quic:tuple_assigned"]}
    if "0" not in tuples or "1" not in tuples:
        fail(path, f"tuple_assigned for tuples {sorted(tuples)}, want 0 and 1")
    t1 = tuples["1"]["data"]
    if t1["tuple_local"] == tuples["0"]["data"]["tuple_local"] and vantage == "client":
        fail(path, "tuple 1 has the local address of tuple 0")
    states = [(e["data"]["new"], e["data"]["tuple_id"], e["data"].get("from_tuple_id"),
               e["data"].get("reason")) for e in names["quic:migration_state_updated"]]
    if ("probing_successful", "1") not in [(s, t) for s, t, _, _ in states]:
        fail(path, f"tuple 1 was never validated: {states}")
    moved = [s for s in states if s[0] == "migration_complete" and s[1] == "1" and s[2] == "0"]
    if not moved:
        fail(path, f"no migration_complete from tuple 0 to tuple 1: {states}")
    want_reason = "app" if vantage == "client" else "peer_migrated"
    if moved[0][3] != want_reason:
        fail(path, f"migration reason {moved[0][3]}, want {want_reason}")
    if vantage == "client" and ("probing_started", "1") not in [(s, t) for s, t, _, _ in states]:
        fail(path, f"probing of tuple 1 never started: {states}")
    # the validation goes on the new tuple, and traffic follows the migration there
    challenges = [e for e in names["quic:packet_sent"] + names["quic:packet_received"]
                  if e.get("tuple") == "1" and
                  any(f["frame_type"] in ("path_challenge", "path_response") for f in e["data"]["frames"])]
    if not challenges:
        fail(path, "no PATH_CHALLENGE or PATH_RESPONSE on tuple 1")
    t_move = next(e["time"] for e in names["quic:migration_state_updated"]
                  if e["data"]["new"] == "migration_complete" and e["data"]["tuple_id"] == "1")
    after = [e for e in names["quic:packet_sent"]
             if e["time"] >= t_move and e["data"]["header"]["packet_type"] == "1RTT"]
    probing = {"path_challenge", "path_response", "padding", "new_connection_id"}
    if not any(e.get("tuple") == "1" for e in after):
        fail(path, "no 1-RTT packet on tuple 1 after the migration")
    for e in after:  # only probes (RFC 9000 §9.1) may still go elsewhere, e.g. §9.3.3's check
        if e.get("tuple") != "1" and any(f["frame_type"] not in probing for f in e["data"]["frames"]):
            fail(path, f"a non-probing packet on tuple {e.get('tuple')} after the migration: "
                       f"{json.dumps(e)[:300]}")
    if not any(e["data"]["header"]["dcid"] != after[0]["data"]["header"]["dcid"]
               for e in names["quic:packet_sent"] if e["data"]["header"]["packet_type"] == "1RTT"):
        fail(path, "the new tuple uses the connection ID of the old one")
    return len(events), len(names["quic:packet_sent"]), len(names["quic:packet_received"])


def main(argv):
    expect = "--expect-migration" in argv
    files = [a for a in argv if a != "--expect-migration"]
    if not files:
        print(__doc__)
        return 2
    header_v, event_v = validators()
    for path in files:
        recs = load_records(path)
        if len(recs) < 2:
            fail(path, "no events")
        errs = sorted(header_v.iter_errors(recs[0]), key=lambda e: list(e.path))
        if errs:
            fail(path, f"header: {errs[0].message} at {list(errs[0].path)}")
        vantage = recs[0]["trace"]["vantage_point"]["type"]
        base = os.path.basename(path)
        if base != f"{recs[0]['trace']['common_fields']['group_id']}_{vantage}.sqlog":
            fail(path, "the file name is not <group_id>_<vantage point>.sqlog")
        last = 0.0
        for i, ev in enumerate(recs[1:], 1):
            errs = list(event_v.iter_errors(ev))
            if errs:
                best = min(errs, key=lambda e: len(list(e.path)))
                fail(path, f"record {i} ({ev.get('name')}): {best.message} at "
                           f"{list(best.absolute_path)}: {json.dumps(ev)[:300]}")
            if ev["time"] < last:
                fail(path, f"record {i}: time {ev['time']} before {last}")
            last = ev["time"]
        summary = f"{len(recs) - 1} events valid"
        if expect:
            n, s, r = check_migration(path, recs[1:], vantage)
            summary += f", migration 0 -> 1 seen ({s} packets sent, {r} received)"
        print(f"check_qlog: {base}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

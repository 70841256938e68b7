#!/usr/bin/env python3
"""Checks qlog files written by tern against tests/qlog/qlog-schema.json and against what a
migration must show.

    check_qlog.py [--expect-migration] [--only PREFIX,...] [--expect NAME]... [--expect-frame TYPE]...
                  FILE.sqlog...

Every file must be a JSON Text Sequence (RFC 7464): records that start with RS (0x1e) and end with
a line feed, the first the qlog header (validated as #/$defs/header), every other one an event
(#/$defs/event), their times never decreasing. With --expect-migration, the file must also hold:
packets sent and received with their frames (STREAM, ACK, CRYPTO, PATH_CHALLENGE, PATH_RESPONSE,
NEW_CONNECTION_ID), recovery metrics with an RTT, a congestion state, the TLS keys, the validation
of tuple 1 and the migration of the connection from tuple 0 to tuple 1, then 1-RTT packets sent on
tuple 1 (elsewhere only probing packets). --only validates just the events whose names start with
one of the prefixes (the framing, order and header of every record are still checked); each
--expect NAME must occur in at least one of the files, each --expect-frame TYPE (a frame_type) in the
frames of at least one packet event of them. Prints one line per file; exits 1 at the first failure."""
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


class Checker:
    """The schema's definitions applied one by one: the envelope of an event, then the data
    definition of its name, then (packets) each frame's definition by its type. The constraints are
    those of #/$defs/event; picking the definition directly instead of letting every if/then of the
    schema run makes the check of tens of thousands of records take seconds."""

    def __init__(self):
        schema = json.load(open(os.path.join(HERE, "qlog-schema.json")))
        Draft202012Validator.check_schema(schema)
        self.defs = schema["$defs"]
        fc = FormatChecker()

        def v(ref, override=None):
            root = {"$defs": self.defs}
            root.update(override if override is not None else {"$ref": "#/$defs/" + ref})
            return Draft202012Validator(root, format_checker=fc)

        self.header = v("header")
        envelope = dict(self.defs["event"])
        envelope.pop("allOf")
        self.envelope = v(None, envelope)
        self.data = {}
        for name in self.defs["event"]["properties"]["name"]["enum"]:
            d = dict(self.defs["data_" + name.replace(":", "_")])
            self.data[name] = v(None, d)
            if "frames" in d.get("properties", {}):
                item = d["properties"]["frames"]["items"]["$ref"].split("/")[-1]  # frame, lost_frame
                shallow = dict(d, properties=dict(d["properties"]))
                shallow["properties"]["frames"] = {"type": "array", "items": {
                    "type": "object", "required": ["frame_type"],
                    "properties": {"frame_type": self.defs[item]["properties"]["frame_type"]}}}
                self.data[name] = v(None, shallow)
                self.data[name].frame_prefix = item + "_"
        self.frames = {k: v(k) for k in self.defs if k.startswith(("frame_", "lost_frame_"))}

    @staticmethod
    def first_error(validator, instance):
        if validator.is_valid(instance):
            return None
        e = min(validator.iter_errors(instance), key=lambda e: len(list(e.path)))
        return f"{e.message} at {list(e.absolute_path)}"

    def event(self, ev):
        err = self.first_error(self.envelope, ev)
        if err:
            return err
        dv = self.data[ev["name"]]
        err = self.first_error(dv, ev["data"])
        if err:
            return "data: " + err
        prefix = getattr(dv, "frame_prefix", None)
        if prefix:
            for i, f in enumerate(ev["data"]["frames"]):
                err = self.first_error(self.frames[prefix + f["frame_type"]], f)
                if err:
                    return f"frame {i}: {err}"
        return None


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
    expect = False
    only = None
    wanted = []
    wanted_frames = []
    files = []
    it = iter(argv)
    for a in it:
        if a == "--expect-migration":
            expect = True
        elif a == "--only":
            only = tuple(next(it).split(","))
        elif a == "--expect":
            wanted.append(next(it))
        elif a == "--expect-frame":
            wanted_frames.append(next(it))
        else:
            files.append(a)
    seen = set()
    frames_seen = set()
    if not files:
        print(__doc__)
        return 2
    checker = Checker()
    for path in files:
        recs = load_records(path)
        if len(recs) < 2:
            fail(path, "no events")
        err = checker.first_error(checker.header, recs[0])
        if err:
            fail(path, f"header: {err}")
        vantage = recs[0]["trace"]["vantage_point"]["type"]
        base = os.path.basename(path)
        if base != f"{recs[0]['trace']['common_fields']['group_id']}_{vantage}.sqlog":
            fail(path, "the file name is not <group_id>_<vantage point>.sqlog")
        last = 0.0
        checked = 0
        for i, ev in enumerate(recs[1:], 1):
            seen.add(ev.get("name"))
            for f in ev.get("data", {}).get("frames", []) if isinstance(ev.get("data"), dict) else []:
                if isinstance(f, dict):
                    frames_seen.add(f.get("frame_type"))
            if only and not str(ev.get("name")).startswith(only):
                continue
            checked += 1
            err = checker.event(ev)
            if err:
                fail(path, f"record {i} ({ev.get('name')}): {err}: {json.dumps(ev)[:300]}")
            if ev["time"] < last:
                fail(path, f"record {i}: time {ev['time']} before {last}")
            last = ev["time"]
        summary = f"{checked} of {len(recs) - 1} events checked, valid"
        if expect:
            n, s, r = check_migration(path, recs[1:], vantage)
            summary += f", migration 0 -> 1 seen ({s} packets sent, {r} received)"
        print(f"check_qlog: {base}: {summary}")
    for name in wanted:
        if name not in seen:
            print(f"check_qlog: FAIL: no {name} event in {len(files)} file(s)")
            return 1
    for ft in wanted_frames:
        if ft not in frames_seen:
            print(f"check_qlog: FAIL: no {ft} frame in {len(files)} file(s) (seen: {sorted(map(str, frames_seen))})")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env node
// Loads a tern qlog file the way qvis (the qlog visualisation suite) loads one, with no package
// from npm: qvis itself is not published there. The steps follow its loader: the file type from
// the extension (.sqlog is JSON-SEQ) or from the first 1024 characters (qlog_version and
// qlog_format "JSON-SEQ"), records split on the RS character and parsed one by one, the first one
// the header (it must have qlog_version, qlog_format "JSON-SEQ" and trace), the others the trace's
// events; then the checks of its draft-02 loader: a qlog_version it knows ("draft-02",
// "draft-02-RC1", "qlog-03-WIP", "0.3"), events ordered by time, no draft-01 leftovers
// (header.packet_size, header.payload_length, data.packet_type), event names "namespace:type".
//
//   node qvis_load.mjs FILE.sqlog [--html OUT.html]
//
// Prints what it loaded and the migration it finds (tuple_assigned and migration_state_updated,
// packets per tuple); exits 1 when the loader would reject the file or no migration is in it.
// With --html it also writes a page drawing the packets of each tuple over time and the migration
// events, for a screenshot.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const VERSION_ALIASES = ["draft-02", "draft-02-RC1", "qlog-03-WIP", "0.3"];

function die(msg) {
    console.log(`qvis_load: FAIL: ${msg}`);
    process.exit(1);
}

function fileType(name, text) {
    if (name.endsWith(".sqlog") || name.endsWith(".qlogseq")) return "textsequence";
    if (name.endsWith(".qlognd")) return "newline";
    if (!name.endsWith(".qlog") && !name.endsWith(".json")) return "unsupported";
    const head = text.substring(0, 1024);
    if (head.indexOf("qlog_version") < 0) return "unsupported";
    if (head.indexOf("qlog_format") < 0) return "normal";
    if (head.indexOf("NDJSON") >= 0) return "newline";
    if (head.indexOf("JSON-SEQ") >= 0) return "textsequence";
    return "normal";
}

function fromTextSequence(text) {
    const records = [];
    const parts = text.split("\u001E");
    for (let i = 0; i < parts.length; i++) {
        const r = parts[i].trim();
        if (r.length === 0) continue;
        try {
            records.push(JSON.parse(r));
        } catch (e) {
            die(`record ${records.length} is invalid JSON: ${e.message}`);
        }
    }
    if (records.length === 0) die("no entries found");
    const header = records.shift();
    if (header.qlog_version === undefined || header.qlog_format !== "JSON-SEQ" || header.trace === undefined)
        die("the file does not start with the qlog header (needs version, format and trace)");
    const file = { traces: [] };
    for (const k of Object.keys(header)) if (k !== "trace") file[k] = header[k];
    const trace = { vantage_point: { type: "unknown" }, events: [] };
    for (const k of Object.keys(header.trace)) trace[k] = header.trace[k];
    trace.events = records;
    file.traces = [trace];
    return file;
}

function loadV2(file) {
    if (!file.qlog_version) die("no qlog_version in the top-level object");
    if (VERSION_ALIASES.indexOf(file.qlog_version) < 0)
        die(`unknown qlog version ${file.qlog_version} (qvis knows ${VERSION_ALIASES})`);
    const conns = [];
    for (const trace of file.traces) {
        if (trace.error_description !== undefined) continue;
        if (trace.events.length > 0 && trace.events[0].group_id !== undefined)
            die("events carry group_id one by one: qvis would split the trace");
        const cf = trace.common_fields || {};
        const relative = cf.time_format === "relative" || (cf.time_format === undefined && cf.reference_time !== undefined);
        const start = relative ? parseFloat(cf.reference_time) || 0 : parseFloat(trace.events[0].time);
        let min = -1;
        const events = trace.events.map((e) => {
            const split = e.name.split(":");
            const abs = parseFloat(e.time) + (relative ? start : 0);
            if (abs < min) die(`timestamps are not in order at ${e.name} (${e.time})`);
            min = abs;
            const d = e.data || {};
            if (d.header && (d.header.packet_size || d.header.payload_length)) die(`draft-01 header fields in ${e.name}`);
            if (d.packet_type) die(`data.packet_type in ${e.name}`);
            return { category: split.length > 1 ? split[0] : "unknown", name: split.length > 1 ? split[1] : split[0],
                     time: relative ? parseFloat(e.time) : abs - start, data: d, tuple: e.tuple };
        });
        conns.push({ vantage: (trace.vantage_point || {}).type || "unknown", title: trace.title || "", events });
    }
    return conns;
}

function main() {
    const args = process.argv.slice(2);
    const path = args[0];
    if (!path) die("usage: qvis_load.mjs FILE [--html OUT.html]");
    const hi = args.indexOf("--html");
    const text = readFileSync(path, "utf8");
    const type = fileType(basename(path), text);
    if (type !== "textsequence") die(`file type ${type}, expected a JSON-SEQ qlog`);
    const conns = loadV2(fromTextSequence(text));
    if (conns.length !== 1) die(`${conns.length} connections, expected 1`);
    const c = conns[0];
    const counts = {};
    for (const e of c.events) counts[`${e.category}:${e.name}`] = (counts[`${e.category}:${e.name}`] || 0) + 1;
    console.log(`qvis_load: ${basename(path)}: qlog ${JSON.parse(text.split("\u001E")[1]).qlog_version}, ` +
                `JSON-SEQ, 1 trace (${c.vantage}), ${c.events.length} events`);
    const perTuple = {};
    for (const e of c.events)
        if (e.category === "quic" && (e.name === "packet_sent" || e.name === "packet_received"))
            perTuple[e.tuple || ""] = (perTuple[e.tuple || ""] || 0) + 1;
    console.log(`qvis_load: packets per tuple: ${JSON.stringify(perTuple)}`);
    const mig = c.events.filter((e) => e.category === "quic" && (e.name === "migration_state_updated" || e.name === "tuple_assigned"));
    for (const e of mig) {
        const d = e.data;
        const ep = d.tuple_local ? ` local ${d.tuple_local.ip_v4 || d.tuple_local.ip_v6}:${d.tuple_local.port_v4 || d.tuple_local.port_v6}` : "";
        console.log(`qvis_load:   ${e.time.toFixed(3)} ms ${e.name} tuple ${d.tuple_id}${d.new ? " " + d.new : ""}` +
                    `${d.from_tuple_id ? " from " + d.from_tuple_id : ""}${d.reason ? " (" + d.reason + ")" : ""}${ep}`);
    }
    const moved = mig.find((e) => e.name === "migration_state_updated" && e.data.new === "migration_complete" && e.data.from_tuple_id !== undefined);
    if (!moved) die("no migration_complete from one tuple to another");
    if (!perTuple[moved.data.tuple_id]) die(`no packet on tuple ${moved.data.tuple_id}`);
    console.log(`qvis_load: migration from tuple ${moved.data.from_tuple_id} to ${moved.data.tuple_id} at ${moved.time.toFixed(3)} ms`);
    if (hi >= 0) writeFileSync(args[hi + 1], page(basename(path), c));
}

// A page drawing each tuple's packets (sent up, received down) over time and the migration events.
function page(name, c) {
    const pk = c.events.filter((e) => e.category === "quic" && (e.name === "packet_sent" || e.name === "packet_received"));
    const mig = c.events.filter((e) => e.name === "migration_state_updated");
    const tuples = [...new Set(pk.map((e) => e.tuple || ""))].sort();
    const tmax = Math.max(...c.events.map((e) => e.time), 1);
    const W = 1200, lane = 140, left = 150, top = 70 + 18 * mig.length;
    const x = (t) => left + (t / tmax) * (W - left - 30);
    const addr = (ep) => ep ? `${ep.ip_v4 || ep.ip_v6}:${ep.port_v4 || ep.port_v6}` : "";
    let s = "";
    tuples.forEach((t, i) => {
        const y = top + i * lane + lane / 2;
        s += `<line x1="${left}" x2="${W - 30}" y1="${y}" y2="${y}" stroke="#888"/>`;
        const ta = c.events.find((e) => e.name === "tuple_assigned" && e.data.tuple_id === t);
        s += `<text x="8" y="${y - 8}" font-size="15">tuple ${t}</text>` +
             `<text x="8" y="${y + 10}" font-size="11">local ${ta ? addr(ta.data.tuple_local) : ""}</text>` +
             `<text x="8" y="${y + 24}" font-size="11">remote ${ta ? addr(ta.data.tuple_remote) : ""}</text>`;
    });
    for (const e of pk) {
        const y = top + tuples.indexOf(e.tuple || "") * lane + lane / 2;
        const sent = e.name === "packet_sent";
        const probe = (e.data.frames || []).some((f) => f.frame_type === "path_challenge" || f.frame_type === "path_response");
        const h = probe ? 55 : 35;
        s += `<line x1="${x(e.time)}" x2="${x(e.time)}" y1="${y}" y2="${sent ? y - h : y + h}" ` +
             `stroke="${probe ? "#d62728" : sent ? "#1f77b4" : "#2ca02c"}" stroke-width="${probe ? 3 : 1}"/>`;
    }
    mig.forEach((e, k) => {
        const xx = x(e.time), ly = 58 + 18 * k;
        s += `<line x1="${xx}" x2="${xx}" y1="${ly + 4}" y2="${top + tuples.length * lane}" stroke="#9467bd" stroke-dasharray="4"/>`;
        const anchor = xx > W / 2 ? `x="${xx - 4}" text-anchor="end"` : `x="${xx + 4}"`;
        s += `<text ${anchor} y="${ly}" font-size="13" fill="#6a3d9a">${e.time.toFixed(1)} ms: ${e.data.new} ` +
             `(tuple ${e.data.tuple_id}${e.data.from_tuple_id ? " from " + e.data.from_tuple_id : ""}` +
             `${e.data.reason ? ", " + e.data.reason : ""})</text>`;
    });
    const H = top + tuples.length * lane + 40;
    const step = Math.max(1, Math.round(tmax / 10));
    for (let t = 0; t <= tmax; t += step)
        s += `<text x="${x(t)}" y="${H - 12}" font-size="11" text-anchor="middle">${t} ms</text>`;
    return `<!doctype html><html><body style="margin:0;font-family:sans-serif;background:#fff">` +
           `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">` +
           `<text x="8" y="22" font-size="16">${name}: ${c.vantage}'s packets per tuple over time</text>` +
           `<text x="8" y="42" font-size="12">blue: sent, green: received, red: PATH_CHALLENGE / PATH_RESPONSE; ` +
           `dashed: quic:migration_state_updated</text>${s}</svg></body></html>`;
}

main();

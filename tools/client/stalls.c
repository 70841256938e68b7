/* Delivery gaps of tern-client: the longest interval without stream data, and every stall (a gap
 * of at least the threshold, --stall-ms) with what ended it: the last switch of the active path
 * during the gap (else the last path event in it), or, for a stall that ended the transfer (the
 * connection closed or the run was interrupted before every body arrived), why it ended. The
 * gap is measured from the last delivery (or from the handshake, before the first) to the next
 * delivery or to the end of the transfer. */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "common/json.h"

/* Closes the gap that started at the last delivery (or the handshake) at `now`. */
static void close_gap(client *cl, uint64_t now, int ended, const char *why)
{
    cl_stalls *ss = &cl->stalls;
    uint64_t from = cl->last_data_ns ? cl->last_data_ns : cl->connected_ns;
    cl_stall *s;

    if (!from || now <= from)
        return;
    if (now - from > cl->longest_gap_ns) {
        cl->longest_gap_ns = now - from;
        cl->longest_gap_at_ns = from;
    }
    if (now - from < ss->threshold_ns)
        return;
    ss->total++;
    if (ss->n == CL_MAX_STALLS)
        return;
    s = &ss->s[ss->n++];
    memset(s, 0, sizeof(*s));
    s->start_ns = from;
    s->end_ns = now;
    s->ended = ended;
    if (ended)
        snprintf(s->end_why, sizeof(s->end_why), "%s", why ? why : "");
    /* The event that ended it: a switch of the active path during the gap, else any event. */
    if (ss->last_active.t_ns > from) {
        s->have_cause = 1;
        s->cause = ss->last_active;
        s->cause_path = ss->last_active_path;
    } else if (ss->last_any.t_ns > from) {
        s->have_cause = 1;
        s->cause = ss->last_any;
        s->cause_path = ss->last_any_path;
    }
}

void cl_stalls_on_data(client *cl, uint64_t now)
{
    if (cl->last_data_ns || cl->connected_ns)
        close_gap(cl, now, 0, NULL);
    cl->last_data_ns = now;
}

void cl_stalls_on_path_event(client *cl, const tern_path_event *ev, uint64_t now)
{
    cl_stalls *ss = &cl->stalls;
    cl_path_ev e = {.t_ns = now, .type = ev->type, .reason = ev->reason, .rtt_ns = ev->rtt_ns};

    ss->last_any = e;
    ss->last_any_path = ev->path ? ev->path->id : -1;
    if (ev->type == TERN_PATH_EV_ACTIVE) {
        ss->last_active = e;
        ss->last_active_path = ss->last_any_path;
    }
}

void cl_stalls_on_end(client *cl, uint64_t now, const char *why)
{
    if (cl->stalls.ended || cl->n_finished == cl->n || !cl->connected)
        return;
    cl->stalls.ended = 1;
    close_gap(cl, now, 1, why);
}

void cl_stalls_json(client *cl, FILE *f)
{
    const cl_stalls *ss = &cl->stalls;

    fputs(",\"stall_threshold_ms\":", f);
    tool_json_number(f, (double)ss->threshold_ns / 1e6, 3);
    fputs(",\"stalls\":[", f);
    for (size_t i = 0; i < ss->n; i++) {
        const cl_stall *s = &ss->s[i];
        fprintf(f, "%s{\"start_ms\":", i ? "," : "");
        tool_json_number(f, (double)(s->start_ns - cl->start_ns) / 1e6, 3);
        fputs(",\"end_ms\":", f);
        tool_json_number(f, (double)(s->end_ns - cl->start_ns) / 1e6, 3);
        fputs(",\"ms\":", f);
        tool_json_number(f, (double)(s->end_ns - s->start_ns) / 1e6, 3);
        fputs(",\"path_event\":", f);
        if (s->have_cause) {
            fputs("{\"t_ms\":", f);
            tool_json_number(f, (double)(s->cause.t_ns - cl->start_ns) / 1e6, 3);
            fprintf(f, ",\"event\":\"%s\",\"reason\":", cl_paths_event_name(s->cause.type));
            tool_json_string(f, tern_path_reason_str(s->cause.reason));
            fprintf(f, ",\"path\":%d}", s->cause_path);
        } else {
            fputs("null", f);
        }
        fprintf(f, ",\"ended_transfer\":%s", s->ended ? "true" : "false");
        if (s->ended) {
            fputs(",\"end\":", f);
            tool_json_string(f, s->end_why);
        }
        fputc('}', f);
    }
    fputc(']', f);
    if (ss->total > ss->n)
        fprintf(f, ",\"stalls_not_kept\":%zu", ss->total - ss->n);
}

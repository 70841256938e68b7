/* tern-client --datagrams N: N unreliable datagrams (RFC 9221) of CL_DGRAM_SIZE bytes go to the
 * server alongside the downloads, each carrying its number and a pattern of it, so that the echo
 * of a server run with --datagram-echo can be checked; the report counts how many were
 * acknowledged, lost and echoed. With --early-data they start in 0-RTT when the session
 * remembers that the server takes them (those of a refused 0-RTT come back as lost). The connection
 * stays open until each has its outcome and its echo (or, for echoes that do not come,
 * CL_DGRAM_ECHO_WAIT_NS longer). */
#include <string.h>

#include "client.h"
#include "common/json.h"
#include "common/util.h"

static void fill(uint64_t n, uint8_t *out)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(n >> (56 - 8 * i));
    for (int i = 8; i < CL_DGRAM_SIZE; i++)
        out[i] = (uint8_t)(n * 7 + (uint64_t)i);
}

void cl_dgram_send(client *cl)
{
    cl_dgram *d = &cl->dg;
    uint8_t buf[CL_DGRAM_SIZE];
    while (cl->conn && (cl->connected || cl->early_started) && !cl->closing && !d->error &&
           d->queued < d->want) {
        fill(d->queued, buf);
        int rv = tern_conn_send_datagram(cl->conn, buf, sizeof(buf), d->queued);
        if (rv == TERN_ERR_WOULD_BLOCK)
            return; /* the queue is full: more as outcomes come in */
        if (rv == TERN_ERR_DATAGRAM_UNSUPPORTED && !cl->connected)
            return; /* the session remembers none: they wait for the server's parameters */
        if (rv < 0) {
            d->error = rv;
            if (cl->err)
                fprintf(cl->err, "tern-client: datagrams: %s after %llu\n", tern_strerror(rv),
                        (unsigned long long)d->queued);
            cl_maybe_close(cl);
            return;
        }
        d->queued++;
        d->queued_early += !cl->connected;
    }
}

int cl_dgram_settled(client *cl)
{
    cl_dgram *d = &cl->dg;
    if (!cl->conn)
        return 1;
    if (d->acked + d->lost < d->queued || (d->queued < d->want && !d->error))
        return 0;
    if (d->echoed >= d->acked)
        return 1;
    /* echoes travel behind the acknowledgements: give the last ones a moment */
    uint64_t now = tool_now_ns();
    if (!d->settled_ns)
        d->settled_ns = now;
    return now - d->settled_ns >= CL_DGRAM_ECHO_WAIT_NS;
}

static void outcome(client *cl, int acked)
{
    if (acked)
        cl->dg.acked++;
    else
        cl->dg.lost++;
    cl_dgram_send(cl);
    cl_maybe_close(cl);
}

static void on_acked(tern_conn *c, uint64_t tag, void *ud)
{
    (void)c;
    (void)tag;
    outcome(ud, 1);
}

static void on_lost(tern_conn *c, uint64_t tag, void *ud)
{
    (void)c;
    (void)tag;
    outcome(ud, 0);
}

static void on_datagram(tern_conn *c, const uint8_t *data, size_t len, void *ud)
{
    client *cl = ud;
    uint8_t want[CL_DGRAM_SIZE];
    uint64_t n = 0;
    (void)c;
    for (size_t i = 0; i < 8 && i < len; i++)
        n = n << 8 | data[i];
    fill(n, want);
    if (len == sizeof(want) && n < cl->dg.queued && memcmp(data, want, len) == 0)
        cl->dg.echoed++;
    else
        cl->dg.bad++;
    cl_maybe_close(cl);
}

void cl_dgram_callbacks(tern_callbacks *cb)
{
    cb->on_datagram = on_datagram;
    cb->on_datagram_acked = on_acked;
    cb->on_datagram_lost = on_lost;
}

void cl_dgram_summary(client *cl)
{
    const cl_dgram *d = &cl->dg;
    if (!d->want || cl->quiet)
        return;
    fprintf(cl->info, "datagrams: %llu sent, %llu acknowledged, %llu lost, %llu echoed%s%s\n",
            (unsigned long long)d->queued, (unsigned long long)d->acked,
            (unsigned long long)d->lost, (unsigned long long)d->echoed,
            d->error ? ", stopped: " : "", d->error ? tern_strerror(d->error) : "");
}

void cl_dgram_json(const client *cl, FILE *f)
{
    const cl_dgram *d = &cl->dg;
    if (!d->want)
        return;
    fprintf(f,
            ",\"datagrams\":{\"wanted\":%llu,\"sent\":%llu,\"sent_early\":%llu,"
            "\"acked\":%llu,\"lost\":%llu,\"echoed\":%llu,\"bad\":%llu,\"error\":",
            (unsigned long long)d->want, (unsigned long long)d->queued,
            (unsigned long long)d->queued_early, (unsigned long long)d->acked,
            (unsigned long long)d->lost, (unsigned long long)d->echoed, (unsigned long long)d->bad);
    if (d->error)
        tool_json_string(f, tern_strerror(d->error));
    else
        fputs("null", f);
    fputc('}', f);
}

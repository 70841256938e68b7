/* The runtime's qlog sink: each connection's records go to its own file in tern_config.qlog_dir,
 * <original destination CID>_<client|server>.sqlog (the naming draft-ietf-quic-qlog-quic-events
 * recommends), and to the application's tern_config.qlog callback. The core formats the records;
 * this file only opens, writes and closes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/qlog.h"
#include "endpoint_internal.h"

/* dir/name into buf; 0, or -1 when it does not fit. */
static int qlog_path(const char *dir, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void qlog_open(rt_conn *rc, tern_conn *c)
{
    tern_endpoint *ep = rc->ep;
    char path[4096];
    rc->qlog_tried = 1;
    if (tern_qlog_file_name(c, rc->qlog_name, sizeof(rc->qlog_name)) ||
        qlog_path(ep->conf.cfg.qlog_dir, rc->qlog_name, path, sizeof(path))) {
        tern_ep_log(ep, "qlog: path too long in %s", ep->conf.cfg.qlog_dir);
        return;
    }
    rc->qlog_fp = fopen(path, "w");
    if (!rc->qlog_fp)
        tern_ep_log(ep, "qlog: cannot open %s: %s", path, strerror(errno));
}

void tern_ep_qlog_record(void *ud, tern_conn *c, const char *record, size_t len)
{
    rt_conn *rc = ud;
    tern_endpoint *ep = rc->ep;
    if (ep->conf.cfg.qlog_dir && !rc->qlog_tried)
        qlog_open(rc, c);
    if (rc->qlog_fp && fwrite(record, 1, len, rc->qlog_fp) != len) {
        tern_ep_log(ep, "qlog: write failed: %s", strerror(errno));
        fclose(rc->qlog_fp);
        rc->qlog_fp = NULL;
    }
    if (ep->conf.cfg.qlog)
        ep->conf.cfg.qlog(ep->conf.cfg.qlog_ud, c, record, len);
}

void tern_ep_qlog_close(rt_conn *rc, int discard)
{
    if (!rc->qlog_fp)
        return;
    fclose(rc->qlog_fp);
    rc->qlog_fp = NULL;
    char path[4096];
    if (discard && qlog_path(rc->ep->conf.cfg.qlog_dir, rc->qlog_name, path, sizeof(path)) == 0)
        unlink(path);
}

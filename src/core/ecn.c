/* ECN validation of one path (RFC 9000 §13.4.2, Appendix A.4): the testing period, the checks of
 * the peer's ACK_ECN counts and the verdicts. See ecn.h. */
#include "ecn.h"

void tern_ecn_init(tern_ecn_path *e)
{
    memset(e, 0, sizeof(*e));
    e->state = TERN_ECN_STATE_TESTING;
}

static void fail(tern_ecn_path *e, int why)
{
    e->state = TERN_ECN_STATE_FAILED;
    e->failure = (uint8_t)why;
}

/* The test is over and every packet it marked was lost: a path (or a middlebox) that drops marked
 * packets must not keep losing them. */
static void check_all_lost(tern_ecn_path *e)
{
    if (e->state == TERN_ECN_STATE_UNKNOWN && e->testing_sent && e->testing_lost >= e->testing_sent)
        fail(e, TERN_ECN_FAIL_LOST);
}

int tern_ecn_mark(tern_ecn_path *e, tern_tstamp now, tern_tstamp pto)
{
    if (e->state == TERN_ECN_STATE_TESTING && e->testing_start &&
        (e->testing_sent >= TERN_ECN_TESTING_PACKETS ||
         now - e->testing_start >= TERN_ECN_TESTING_PTOS * pto)) {
        e->state = TERN_ECN_STATE_UNKNOWN;
        check_all_lost(e);
    }
    return e->state == TERN_ECN_STATE_TESTING || e->state == TERN_ECN_STATE_CAPABLE
               ? TERN_ECN_ECT0
               : TERN_ECN_NOT_ECT;
}

void tern_ecn_on_sent(tern_ecn_path *e, int recorded, tern_tstamp now)
{
    e->sent++;
    if (!recorded)
        e->unrec++;
    if (e->state != TERN_ECN_STATE_TESTING || !recorded)
        return;
    if (!e->testing_start)
        e->testing_start = now ? now : 1;
    e->testing_sent++;
}

void tern_ecn_on_lost(tern_ecn_path *e)
{
    if (e->state != TERN_ECN_STATE_TESTING && e->state != TERN_ECN_STATE_UNKNOWN)
        return;
    e->testing_lost++;
    check_all_lost(e);
}

void tern_ecn_on_recv(tern_ecn_path *e, int ecn)
{
    int k = tern_ecn_counter(ecn);
    if (k >= 0)
        e->recv[k]++;
}

static int live(const tern_ecn_path *e)
{
    return e->acked_ect && e->state != TERN_ECN_STATE_FAILED;
}

/* Fails the paths with newly acknowledged marked packets; only those not yet validated when
 * `unproven_only`. */
static void fail_acked(tern_ecn_path *const *paths, size_t n, int why, int unproven_only)
{
    for (size_t i = 0; i < n; i++)
        if (live(paths[i]) && (!unproven_only || paths[i]->state != TERN_ECN_STATE_CAPABLE))
            fail(paths[i], why);
}

/* ACK-only packets path e marked in the window of the last two validated frames. */
static uint64_t unrec_window(const tern_ecn_path *e)
{
    return e->unrec - e->unrec_at[0];
}

static uint64_t verdicts(tern_ecn_counts *seen, const tern_ecn_counts *got,
                         tern_ecn_path *const *paths, size_t n)
{
    uint64_t total = 0, unproven = 0, unrec = 0;
    for (size_t i = 0; i < n; i++) {
        unrec += unrec_window(paths[i]);
        if (!live(paths[i]))
            continue;
        total += paths[i]->acked_ect;
        if (paths[i]->state != TERN_ECN_STATE_CAPABLE)
            unproven += paths[i]->acked_ect;
    }
    if (!got) {
        /* §13.4.2.1: an ACK newly acknowledging ECT packets without counts fails validation */
        fail_acked(paths, n, TERN_ECN_FAIL_NO_COUNTS, 0);
        return 0;
    }
    if (got->ect0 < seen->ect0 || got->ect1 < seen->ect1 || got->ce < seen->ce) {
        fail_acked(paths, n, TERN_ECN_FAIL_DECREASED, 0);
        return 0; /* the largest counts stay the reference */
    }
    uint64_t d0 = got->ect0 - seen->ect0, d1 = got->ect1 - seen->ect1, dce = got->ce - seen->ce;
    *seen = *got;
    if (!total)
        return 0;
    if (d1) {
        /* we never send ECT(1): something on the way rewrote our marks */
        fail_acked(paths, n, TERN_ECN_FAIL_ECT1, 0);
        return 0;
    }
    if (d0 + dce < total) {
        /* marks removed on the way (bleached): charged to the unproven paths when they can
         * explain the whole shortfall */
        fail_acked(paths, n, TERN_ECN_FAIL_BLEACHED, total - (d0 + dce) <= unproven);
    } else if (d0 == 0 && dce >= total && unproven == total) {
        /* every marked packet of the test arrived CE: a network that remarks ECT as CE would
         * otherwise halve the window at every round trip */
        fail_acked(paths, n, TERN_ECN_FAIL_REMARKED_CE, 1);
    }
    int capable = 0;
    for (size_t i = 0; i < n; i++) {
        tern_ecn_path *e = paths[i];
        if (!live(e))
            continue;
        /* what the other paths' ACK-only packets may have added to the counts (this path's own
         * are its marks surviving, which is what validation asks) */
        uint64_t others = unrec - unrec_window(e);
        if (e->state != TERN_ECN_STATE_CAPABLE && d0 + dce < total + others)
            continue; /* not proven yet: stays testing or unknown */
        e->state = TERN_ECN_STATE_CAPABLE;
        capable = 1;
    }
    return capable ? dce : 0;
}

uint64_t tern_ecn_on_ack(tern_ecn_counts *seen, const tern_ecn_counts *got,
                         tern_ecn_path *const *paths, size_t n)
{
    uint64_t ce = verdicts(seen, got, paths, n);
    for (size_t i = 0; i < n; i++) {
        paths[i]->unrec_at[0] = paths[i]->unrec_at[1];
        paths[i]->unrec_at[1] = paths[i]->unrec;
    }
    return ce;
}

const char *tern_ecn_state_str(int s)
{
    static const char *const names[] = {"off", "testing", "unknown", "capable", "failed"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "invalid";
}

const char *tern_ecn_failure_str(int f)
{
    static const char *const names[] = {"none",     "no_counts",   "decreased", "ect1",
                                        "bleached", "remarked_ce", "lost"};
    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "invalid";
}

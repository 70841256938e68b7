/* tern-sim: runs one named simulation scenario and prints its timeline and result.
 *
 *   tern-sim --list
 *   tern-sim SCENARIO [--seed N] [--timeline] [--seeds K] [--qlog-dir DIR]
 *
 * --timeline prints every event as it happens; without it a failure still prints the last events.
 * --seeds K runs seed N, and then the soak seeds CI would use after it (see sim_soak_seed), and
 * prints a line per run. --qlog-dir writes the qlog of each connection (client and server, virtual
 * time) into DIR, named as the runtime names them. The exit status is 0 when every run passed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlog.h"
#include "sim.h"
#include "sim_scenario.h"

/* --qlog-dir: one file per connection, opened at its first record (the header) */
#define QLOG_FILES 64
static const char *qlog_dir;
static struct {
    tern_conn *c;
    FILE *f;
} qlog_files[QLOG_FILES];

static void qlog_record(void *ud, tern_conn *c, const char *rec, size_t len)
{
    (void)ud;
    int slot = -1;
    for (int i = 0; i < QLOG_FILES; i++)
        if (qlog_files[i].c == c || (slot < 0 && !qlog_files[i].c))
            slot = i;
    if (slot < 0)
        return;
    int header = strncmp(rec, "\x1e{\"time\":", 9) != 0;
    if (header && qlog_files[slot].f) { /* a new connection where a freed one was */
        fclose(qlog_files[slot].f);
        qlog_files[slot].f = NULL;
    }
    if (!qlog_files[slot].f) {
        char name[64], path[4096];
        if (!header || tern_qlog_file_name(c, name, sizeof(name)))
            return;
        snprintf(path, sizeof(path), "%s/%s", qlog_dir, name);
        qlog_files[slot].f = fopen(path, "w");
        if (!qlog_files[slot].f) {
            perror(path);
            return;
        }
        qlog_files[slot].c = c;
    }
    fwrite(rec, 1, len, qlog_files[slot].f);
}

static void qlog_prepare(sim *s)
{
    s->cfg_c.qlog = s->cfg_s.qlog = qlog_record;
}

static void qlog_close_all(void)
{
    for (int i = 0; i < QLOG_FILES; i++) {
        if (qlog_files[i].f)
            fclose(qlog_files[i].f);
        qlog_files[i].f = NULL;
        qlog_files[i].c = NULL;
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tern-sim --list\n"
               "       tern-sim SCENARIO [--seed N] [--timeline] [--seeds K] [--qlog-dir DIR]\n");
}

static int list(void)
{
    size_t n;
    const sim_scenario *all = sim_scenarios(&n);
    for (size_t i = 0; i < n; i++)
        printf("%-24s %-10s seed %-4" PRIu64 " %s\n", all[i].name, all[i].group, all[i].seed,
               all[i].summary);
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    int timeline = 0, have_seed = 0;
    uint64_t seed = 0;
    unsigned seeds = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0)
            return list();
        if (strcmp(argv[i], "--timeline") == 0) {
            timeline = 1;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 0);
            if (*end) {
                usage(stderr);
                return 2;
            }
            have_seed = 1;
        } else if (strcmp(argv[i], "--qlog-dir") == 0 && i + 1 < argc) {
            qlog_dir = argv[++i];
            sim_scenario_prepare = qlog_prepare;
        } else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            seeds = (unsigned)strtoul(argv[++i], NULL, 0);
            if (seeds == 0)
                seeds = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!name) {
        usage(stderr);
        return 2;
    }
    const sim_scenario *sc = sim_scenario_find(name);
    if (!sc) {
        fprintf(stderr, "tern-sim: no scenario '%s' (see --list)\n", name);
        return 2;
    }
    if (!have_seed)
        seed = sc->seed;
    int failed = 0;
    for (unsigned k = 0; k < seeds; k++) {
        uint64_t sd = k == 0 ? seed : sim_soak_seed(seed, k);
        sim_result r;
        sim *s = NULL;
        if (timeline)
            printf("# %s seed %" PRIu64 ": %s\n", sc->name, sd, sc->summary);
        int ok = sim_scenario_run(sc, sd, timeline ? stdout : NULL, &r, &s);
        if (ok) {
            printf("ok %s seed %" PRIu64 " at t=%.6f s: %s\n", sc->name, sd,
                   (double)r.vtime_ns / 1e9, r.summary);
            printf("   %" PRIu64 " events, timeline digest %016" PRIx64 "\n", r.events, r.digest);
        } else {
            failed++;
            sim_scenario_report(stdout, sc, sd, &r, s, timeline ? 0 : 40);
            printf("   %" PRIu64 " events, timeline digest %016" PRIx64 "\n", r.events, r.digest);
        }
        sim_free(s);
        qlog_close_all();
        fflush(stdout);
    }
    if (seeds > 1)
        printf("%u runs, %d failed\n", seeds, failed);
    return failed != 0;
}

/* The cmocka driver shared by the scenario suites: one test per scenario of a group, each run with
 * its fixed seed (and TERN_SIM_SEEDS - 1 more seeds when that variable is set). */
#ifndef TERN_SIM_TEST_H
#define TERN_SIM_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_scenario.h"

static void sim_test_one(void **state)
{
    const sim_scenario *sc = *(const sim_scenario **)*state;
    assert_int_equal(sim_scenario_soak(sc), 0);
}

/* Runs every scenario of `group`; the suite fails when any run fails. */
static inline int sim_test_main(const char *group)
{
    size_t n, k = 0;
    const sim_scenario *all = sim_scenarios(&n);
    struct CMUnitTest *tests = calloc(n ? n : 1, sizeof(*tests));
    /* cmocka's state is a plain void *: each test gets a slot holding its scenario */
    const sim_scenario **slot = calloc(n ? n : 1, sizeof(*slot));
    if (!tests || !slot) {
        free(tests);
        free(slot);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].group, group) == 0) {
            slot[k] = &all[i];
            struct CMUnitTest t = cmocka_unit_test_prestate(sim_test_one, &slot[k]);
            t.name = all[i].name;
            tests[k++] = t;
        }
    int rv = _cmocka_run_group_tests(group, tests, k, NULL, NULL);
    free(tests);
    free(slot);
    return rv;
}

#endif

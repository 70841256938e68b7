/* CID routing table: insert/find/remove, first route wins, per-owner cleanup, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "allochook.h"
#include "cidmap.h"

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static tern_cid mk(uint32_t v, uint8_t len)
{
    tern_cid c;
    c.len = len;
    for (uint8_t i = 0; i < len; i++)
        c.data[i] = (uint8_t)(v >> (8 * (i % 4))) ^ (uint8_t)(i * 31);
    return c;
}

static void test_basic(void **st)
{
    tern_cidmap m;
    assert_int_equal(tern_cidmap_init(&m, key), 0);
    int a, b;
    tern_cidmap_node *la = NULL, *lb = NULL;
    tern_cid c1 = mk(1, 8), c2 = mk(2, 8), c1short = mk(1, 4), empty = mk(0, 0);
    assert_int_equal(tern_cidmap_insert(&m, &c1, &a, &la), 0);
    assert_int_equal(tern_cidmap_insert(&m, &c2, &b, &lb), 0);
    assert_int_equal(tern_cidmap_insert(&m, &empty, &b, &lb), 0);
    assert_ptr_equal(tern_cidmap_find(&m, &c1), &a);
    assert_ptr_equal(tern_cidmap_find(&m, &c2), &b);
    assert_ptr_equal(tern_cidmap_find(&m, &empty), &b);
    assert_null(tern_cidmap_find(&m, &c1short)); /* a prefix is another CID */
    /* the first route wins */
    assert_int_equal(tern_cidmap_insert(&m, &c1, &b, &lb), TERN_ERR_INVALID_ARG);
    assert_ptr_equal(tern_cidmap_find(&m, &c1), &a);
    /* removing with the wrong owner does nothing */
    tern_cidmap_remove(&m, &c1, &b, &lb);
    assert_ptr_equal(tern_cidmap_find(&m, &c1), &a);
    tern_cidmap_remove(&m, &c1, &a, &la);
    assert_null(tern_cidmap_find(&m, &c1));
    assert_null(la);
    assert_int_equal(m.n, 2);
    tern_cidmap_remove_owner(&m, &lb);
    assert_null(lb);
    assert_int_equal(m.n, 0);
    assert_null(tern_cidmap_find(&m, &c2));
    tern_cid big = mk(3, 8);
    big.len = TERN_MAX_CID_LEN + 1;
    assert_int_equal(tern_cidmap_insert(&m, &big, &a, &la), TERN_ERR_INVALID_ARG);
    tern_cidmap_free(&m);
}

static void test_many_owners(void **st)
{
    enum { OWNERS = 500, PER = 20 };
    tern_cidmap m;
    assert_int_equal(tern_cidmap_init(&m, key), 0);
    tern_cidmap_node **lists = calloc(OWNERS, sizeof(*lists));
    int *vals = calloc(OWNERS, sizeof(int));
    for (uint32_t o = 0; o < OWNERS; o++)
        for (uint32_t k = 0; k < PER; k++) {
            tern_cid c = mk(o * PER + k, (uint8_t)(8 + k % 13));
            assert_int_equal(tern_cidmap_insert(&m, &c, &vals[o], &lists[o]), 0);
        }
    assert_int_equal(m.n, OWNERS * PER);
    assert_true(m.nb >= m.n / 2); /* the table grew */
    for (uint32_t o = 0; o < OWNERS; o += 2)
        tern_cidmap_remove_owner(&m, &lists[o]);
    for (uint32_t o = 0; o < OWNERS; o++)
        for (uint32_t k = 0; k < PER; k++) {
            tern_cid c = mk(o * PER + k, (uint8_t)(8 + k % 13));
            assert_ptr_equal(tern_cidmap_find(&m, &c), o % 2 ? &vals[o] : NULL);
        }
    assert_int_equal(m.n, OWNERS * PER / 2);
    tern_cidmap_free(&m);
    free(lists);
    free(vals);
}

static void test_keyed(void **st)
{
    /* Different keys spread the same CIDs differently (the hash is keyed). */
    static const uint8_t key2[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    tern_cidmap m1, m2;
    assert_int_equal(tern_cidmap_init(&m1, key), 0);
    assert_int_equal(tern_cidmap_init(&m2, key2), 0);
    int v;
    tern_cidmap_node *l1 = NULL, *l2 = NULL;
    for (uint32_t i = 0; i < 40; i++) {
        tern_cid c = mk(i, 8);
        assert_int_equal(tern_cidmap_insert(&m1, &c, &v, &l1), 0);
        assert_int_equal(tern_cidmap_insert(&m2, &c, &v, &l2), 0);
    }
    size_t same = 0;
    for (size_t b = 0; b < m1.nb; b++) {
        size_t n1 = 0, n2 = 0;
        for (tern_cidmap_node *e = m1.b[b]; e; e = e->next)
            n1++;
        for (tern_cidmap_node *e = m2.b[b]; e; e = e->next)
            n2++;
        same += n1 == n2;
    }
    assert_true(same < m1.nb);
    tern_cidmap_free(&m1);
    tern_cidmap_free(&m2);
}

/* Out of memory: a map that cannot be created says so; a map that cannot grow its table keeps
 * working with longer chains; an entry that cannot be allocated is not added. Removing an entry
 * under another owner's value removes nothing. */
static void test_oom_and_wrong_owner(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    uint8_t oom_key[16] = {1, 2, 3};
    tern_cidmap m;
    allochook_fail_next = 1;
    assert_int_equal(tern_cidmap_init(&m, oom_key), TERN_ERR_NOMEM);
    tern_cidmap_free(&m);
    assert_int_equal(tern_cidmap_init(&m, oom_key), 0);

    tern_cidmap_node *owner = NULL;
    int vals[200];
    tern_cid cids[200];
    for (int i = 0; i < 200; i++) {
        cids[i].len = 8;
        memset(cids[i].data, 0, 8);
        memcpy(cids[i].data, &i, sizeof(i));
        if (i == 64)
            allochook_fail_next = 1; /* the table cannot double: chains grow instead */
        assert_int_equal(tern_cidmap_insert(&m, &cids[i], &vals[i], &owner), 0);
    }
    for (int i = 0; i < 200; i++)
        assert_ptr_equal(tern_cidmap_find(&m, &cids[i]), &vals[i]);

    tern_cid extra = {8, {0xee}};
    allochook_fail_next = 1;
    assert_int_equal(tern_cidmap_insert(&m, &extra, &vals[0], &owner), TERN_ERR_NOMEM);
    assert_null(tern_cidmap_find(&m, &extra));

    int other;
    tern_cidmap_remove(&m, &cids[5], &other, &owner); /* not its value: stays */
    assert_ptr_equal(tern_cidmap_find(&m, &cids[5]), &vals[5]);
    tern_cidmap_remove(&m, &cids[5], &vals[5], &owner);
    assert_null(tern_cidmap_find(&m, &cids[5]));
    tern_cidmap_remove_owner(&m, &owner);
    assert_null(tern_cidmap_find(&m, &cids[6]));
    tern_cidmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_many_owners),
        cmocka_unit_test(test_keyed),
        cmocka_unit_test(test_oom_and_wrong_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The field section checks of HTTP/3 messages (tools/common/h3msg.c) on their own: one section
 * per case, each field line checked in order, then the section as a whole; both sides of every
 * rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/h3msg.h"

typedef struct line {
    const char *name, *value;
    size_t vlen; /* 0: strlen(value) */
} line;

#define END                                                                                        \
    {                                                                                              \
        NULL, NULL, 0                                                                              \
    }

/* Checks the lines of one section of `kind`. Returns 0, or -1 when the message is malformed;
 * *cl receives the content-length found. */
static int check(int kind, const line *l, int64_t *cl)
{
    tool_h3_msg m;
    tool_h3_msg_begin(&m, kind);
    for (; l->name; l++) {
        tool_qpack_field f = {(const uint8_t *)l->name, strlen(l->name), (const uint8_t *)l->value,
                              l->vlen ? l->vlen : strlen(l->value)};
        if (tool_h3_msg_field(&m, &f) < 0)
            return -1;
    }
    if (cl)
        *cl = m.content_length;
    return tool_h3_msg_end(&m);
}

#define GET                                                                                        \
    {":method", "GET", 0}, {":scheme", "https", 0},                                                \
    {                                                                                              \
        ":path", "/", 0                                                                            \
    }

static void test_requests(void **state)
{
    int64_t cl;
    const line ok[] = {GET, {":authority", "a.example", 0}, {"accept", "*/*", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_REQUEST, ok, &cl), 0);
    assert_int_equal(cl, -1);
    const line host[] = {GET, {"host", "a.example", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_REQUEST, host, NULL), 0);
    const line same[] = {GET, {":authority", "a", 0}, {"host", "a", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_REQUEST, same, NULL), 0);
    const line other_scheme[] = {
        {":method", "GET", 0}, {":scheme", "x", 0}, {":path", "/", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_REQUEST, other_scheme, NULL), 0);
    const line connect[] = {{":method", "CONNECT", 0}, {":authority", "a:443", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_REQUEST, connect, NULL), 0);
    const line te[] = {GET, {":authority", "a", 0}, {"te", "trailers", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_REQUEST, te, NULL), 0);
    const line len[] = {GET,
                        {":authority", "a", 0},
                        {"content-length", "70000", 0},
                        {"content-length", "70000", 0},
                        END};
    assert_int_equal(check(TOOL_H3_MSG_REQUEST, len, &cl), 0);
    assert_int_equal(cl, 70000);

    const line *bad[] = {
        (const line[]){{":scheme", "https", 0}, {":path", "/", 0}, {":authority", "a", 0}, END},
        (const line[]){{":method", "GET", 0}, {":path", "/", 0}, {":authority", "a", 0}, END},
        (const line[]){{":method", "GET", 0}, {":scheme", "https", 0}, {":authority", "a", 0}, END},
        (const line[]){{":method", "GET", 0},
                       {":scheme", "https", 0},
                       {":path", "", 0},
                       {":authority", "a", 0},
                       END},
        (const line[]){GET, END},                        /* https: no authority */
        (const line[]){GET, {":authority", "", 0}, END}, /* empty */
        (const line[]){GET, {"host", "", 0}, END},       /* empty */
        (const line[]){GET, {":authority", "a", 0}, {"host", "b", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {":method", "GET", 0}, END}, /* twice */
        (const line[]){GET, {":authority", "a", 0}, {":status", "200", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {":protocol", "websocket", 0}, END},
        (const line[]){GET, {"x", "1", 0}, {":authority", "a", 0}, END}, /* pseudo after */
        (const line[]){GET, {":authority", "a", 0}, {"Accept", "*/*", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"a b", "1", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"", "1", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"x", " 1", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"x", "1\t", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"x", "a\rb", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"x", "a\nb", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"x", "a\0b", 3}, END},
        (const line[]){GET, {":authority", "a", 0}, {"connection", "close", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"keep-alive", "1", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"proxy-connection", "1", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"transfer-encoding", "chunked", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"upgrade", "h2c", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"te", "gzip", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"content-length", "1x", 0}, END},
        (const line[]){GET, {":authority", "a", 0}, {"content-length", "", 0}, END},
        (const line[]){GET,
                       {":authority", "a", 0},
                       {"content-length", "1", 0},
                       {"content-length", "2", 0},
                       END},
        (const line[]){{":method", "CONNECT", 0}, END},
        (const line[]){{":method", "CONNECT", 0}, {":authority", "a", 0}, {":path", "/", 0}, END},
        (const line[]){
            {":method", "CONNECT", 0}, {":authority", "a", 0}, {":scheme", "https", 0}, END},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(TOOL_H3_MSG_REQUEST, bad[i], NULL) != -1)
            fail_msg("malformed request %zu accepted", i);
    }
}

static void test_responses(void **state)
{
    int64_t cl;
    tool_h3_msg m;
    const line ok[] = {{":status", "200", 0}, {"content-length", "0", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_RESPONSE, ok, &cl), 0);
    assert_int_equal(cl, 0);
    const line info[] = {{":status", "103", 0}, {"link", "</a>", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_RESPONSE, info, NULL), 0);
    tool_h3_msg_begin(&m, TOOL_H3_MSG_RESPONSE);
    tool_qpack_field st = {(const uint8_t *)":status", 7, (const uint8_t *)"304", 3};
    assert_int_equal(tool_h3_msg_field(&m, &st), 0);
    assert_int_equal(m.status, 304);

    const line *bad[] = {
        (const line[]){{"server", "x", 0}, END},
        (const line[]){{":status", "20", 0}, END},
        (const line[]){{":status", "2000", 0}, END},
        (const line[]){{":status", "2x0", 0}, END},
        (const line[]){{":status", "101", 0}, END}, /* no protocol switch in HTTP/3 */
        (const line[]){{":status", "099", 0}, END},
        (const line[]){{":status", "200", 0}, {":status", "200", 0}, END},
        (const line[]){{":status", "200", 0}, {":path", "/", 0}, END},
        (const line[]){{":status", "200", 0}, {"upgrade", "x", 0}, END},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(TOOL_H3_MSG_RESPONSE, bad[i], NULL) != -1)
            fail_msg("malformed response %zu accepted", i);
    }
}

static void test_trailers(void **state)
{
    int64_t cl;
    const line ok[] = {{"x-checksum", "abc", 0}, {"content-length", "9", 0}, END};
    /* content-length in trailers says nothing about the body */
    assert_int_equal(check(TOOL_H3_MSG_TRAILERS, ok, &cl), 0);
    assert_int_equal(cl, -1);
    const line pseudo[] = {{":status", "200", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_TRAILERS, pseudo, NULL), -1);
    const line upper[] = {{"X-Checksum", "abc", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_TRAILERS, upper, NULL), -1);
    const line conn[] = {{"connection", "close", 0}, END};
    assert_int_equal(check(TOOL_H3_MSG_TRAILERS, conn, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_trailers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

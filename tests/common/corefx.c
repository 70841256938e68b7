/* Shared pieces of the sans-I/O API tests (corefx.h). */
#include "corefx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "testcert.h"

char corefx_cert_file[512], corefx_key_file[512];
static const char *corefx_alpn[] = {"hq-interop"};

int corefx_rand(void *ud, uint8_t *out, size_t len)
{
    uint64_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        out[i] = (uint8_t)(*s >> 24);
    }
    return 0;
}

tern_addr corefx_addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

void corefx_client_config(tern_config *cfg)
{
    tern_config_init(cfg);
    cfg->alpn = corefx_alpn;
    cfg->alpn_count = 1;
    cfg->ca_file = corefx_cert_file;
}

void corefx_server_config(tern_config *cfg)
{
    tern_config_init(cfg);
    cfg->alpn = corefx_alpn;
    cfg->alpn_count = 1;
    cfg->cert_file = corefx_cert_file;
    cfg->key_file = corefx_key_file;
}

int corefx_group_setup(void **st)
{
    (void)st;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    return tern_test_make_cert(dir, corefx_cert_file, sizeof(corefx_cert_file), corefx_key_file,
                               sizeof(corefx_key_file));
}

int corefx_group_teardown(void **st)
{
    (void)st;
    remove(corefx_cert_file);
    remove(corefx_key_file);
    return 0;
}

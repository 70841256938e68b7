/* A program that uses an installed tern through its public headers only: prints the version of
 * the headers and of the library, checks that they agree, and creates and frees a client
 * endpoint. Exits 0 when all of that works. */
#include <stdio.h>
#include <string.h>

#include <tern/tern.h>

int main(void)
{
    int num = 0;
    const char *v = tern_version(&num);
    printf("tern headers %s, library %s\n", TERN_VERSION_STRING, v);
    if (strcmp(v, TERN_VERSION_STRING) != 0 || num != TERN_VERSION_NUM) {
        fprintf(stderr, "the library's version differs from the headers'\n");
        return 1;
    }
    static const char *const alpn[] = {"hq-interop"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    tern_endpoint *ep = NULL;
    int rv = tern_endpoint_new(&cfg, NULL, NULL, &ep);
    if (rv) {
        fprintf(stderr, "tern_endpoint_new: %s\n", tern_strerror(rv));
        return 1;
    }
    printf("endpoint created, %zu connections\n", tern_endpoint_conn_count(ep));
    tern_endpoint_free(ep);
    return 0;
}

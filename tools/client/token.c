/* --token-file: the NEW_TOKEN a server gave, kept for the next run. The file names the server (its
 * name and address) the token is for, so that a token is never offered to another server, and a
 * token is offered once: the file is removed when it is read, and written again when the server
 * sends the next one. Format, one "key value" per line:
 *   tern-token 1
 *   server NAME
 *   address ADDR:PORT
 *   token HEX */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return 1;
    memcpy(dst, src, n + 1);
    return 0;
}

int cl_token_load(client *cl, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0; /* first run: nothing yet */
        fprintf(stderr, "tern-client: cannot read --token-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[2 * TERN_TOKEN_FILE_MAX + 64], server[256] = "", addr[64] = "";
    int version = 0, bad = 0;
    size_t len = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, "tern-token ", 11) == 0) {
            version = atoi(line + 11);
        } else if (strncmp(line, "server ", 7) == 0) {
            bad |= copy_field(server, sizeof(server), line + 7);
        } else if (strncmp(line, "address ", 8) == 0) {
            bad |= copy_field(addr, sizeof(addr), line + 8);
        } else if (strncmp(line, "token ", 6) == 0) {
            const char *h = line + 6;
            size_t n = strlen(h);
            if (n % 2 || n / 2 > TERN_TOKEN_FILE_MAX) {
                bad = 1;
                continue;
            }
            for (len = 0; len < n / 2; len++) {
                int a = hexval(h[2 * len]), b = hexval(h[2 * len + 1]);
                if (a < 0 || b < 0) {
                    bad = 1;
                    break;
                }
                cl->token[len] = (uint8_t)(a << 4 | b);
            }
        }
    }
    fclose(f);
    if (version != 1 || bad || len == 0) {
        fprintf(stderr, "tern-client: --token-file %s is not a token file of tern-client\n", path);
        return -1;
    }
    /* used once, whatever happens: a token used twice links the two connections */
    if (unlink(path) < 0)
        fprintf(stderr, "tern-client: cannot remove --token-file %s: %s\n", path, strerror(errno));
    if (strcmp(server, cl->dl[0].url.host) != 0 || strcmp(addr, cl->peer) != 0) {
        if (!cl->quiet)
            fprintf(cl->info, "token not used: it is for %s at %s\n", server, addr);
        return 0;
    }
    cl->token_len = len;
    return 0;
}

void cl_token_save(client *cl, const uint8_t *token, size_t len)
{
    cl->tokens_received++;
    if (!cl->token_path || len > TERN_TOKEN_FILE_MAX)
        return;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", cl->token_path, (long)getpid()) >= (int)sizeof(tmp))
        return;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "tern-client: cannot write --token-file %s: %s\n", tmp, strerror(errno));
        return;
    }
    fprintf(f, "tern-token 1\nserver %s\naddress %s\ntoken ", cl->dl[0].url.host, cl->peer);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", token[i]);
    fputc('\n', f);
    /* written whole, then renamed over the old one: a reader never sees half a token */
    if (fclose(f) != 0 || rename(tmp, cl->token_path) != 0) {
        fprintf(stderr, "tern-client: cannot write --token-file %s: %s\n", cl->token_path,
                strerror(errno));
        unlink(tmp);
    }
}

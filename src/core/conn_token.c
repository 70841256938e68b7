/* NEW_TOKEN frames (RFC 9000 §8.1.3, §19.7): the server issues a token once the handshake is
 * confirmed and again when the client was validated at another address (so that the token the
 * client keeps is bound to where it is now); the client hands each one to the application, and
 * presents one the application gives back in its next connection's Initials. The token's format
 * and checks are token.c's; the front door (dispatch.c) checks the tokens Initials carry. */
#include <stdio.h>
#include <stdlib.h>

#include "conn_internal.h"
#include "frame.h"
#include "token.h"

int tern_conn_set_token(tern_conn *c, const uint8_t *token, size_t len)
{
    if (!c || !token || len == 0 || len > TERN_TOKEN_MAX_LEN)
        return TERN_ERR_INVALID_ARG;
    if (c->is_server)
        return TERN_ERR_NOT_CLIENT;
    if (c->stats.pkts_sent) /* a Retry, too, comes only after the first datagram */
        return TERN_ERR_STREAM_STATE;
    uint8_t *t = malloc(len);
    if (!t)
        return TERN_ERR_NOMEM;
    memcpy(t, token, len);
    free(c->retry.token);
    c->retry.token = t;
    c->retry.token_len = len;
    return 0;
}

/* tok.enabled is only ever set on a server connection (tern_conn_new) */
void tern_conn_token_on_confirmed(tern_conn *c)
{
    if (c->tok.enabled) {
        c->tok.pending = 1;
        tern_conn_wake(c);
    }
}

void tern_conn_token_on_path_validated(tern_conn *c, int path_idx)
{
    if (!c->tok.enabled || !c->tok.issued || path_idx != c->paths.active)
        return;
    uint8_t b[9];
    size_t bl = tern_token_binding(&tern_conn_path_slot(c, path_idx)->addr.remote, b);
    if (bl && (bl != c->tok.bound_len || memcmp(b, c->tok.bound, bl) != 0)) {
        c->tok.pending = 1;
        tern_conn_wake(c);
    }
}

size_t tern_conn_token_write(tern_conn *c, uint8_t *p, size_t cap, tern_tstamp now)
{
    uint8_t nonce[12], tok[TERN_NEW_TOKEN_MAX];
    if (c->rand(c->rand_ud, nonce, sizeof(nonce)))
        return 0; /* issued at a later send, when the random source works again */
    const tern_addr *to = &tern_conn_path(c)->addr.remote;
    size_t tl = tern_token_seal(c->tok.key, nonce, to, now, tok, sizeof(tok));
    if (!tl) {
        c->tok.pending = 0; /* an address no token can be bound to */
        return 0;
    }
    size_t n = tern_frame_write_new_token(p, cap, tok, tl);
    if (!n)
        return 0;
    c->tok.pending = 0;
    c->tok.bound_len = tern_token_binding(to, c->tok.bound);
    c->tok.issued++;
    return n;
}

void tern_conn_token_on_lost(tern_conn *c)
{
    c->tok.pending = c->tok.enabled;
}

void tern_conn_token_on_frame(tern_conn *c, const uint8_t *token, size_t len)
{
    TERN_LOG(c, "NEW_TOKEN received, %zu bytes", len);
    if (c->cb && c->cb->on_new_token && len <= TERN_TOKEN_MAX_LEN)
        c->cb->on_new_token(c, token, len, c->cb_ud);
}

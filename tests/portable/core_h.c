/* tern/core.h compiled on its own as strict C11 with only a POSIX feature macro (see the
 * tern_core_portable target): the public sans-I/O header needs nothing platform-specific. */
#include "tern/core.h"

/* One use of every type the header declares keeps the unit non-empty for -pedantic. */
size_t tern_portable_check(const tern_core_server *s, tern_rand_fn r, tern_tstamp t);
size_t tern_portable_check(const tern_core_server *s, tern_rand_fn r, tern_tstamp t)
{
    return (size_t)(r != 0) + (size_t)(t == TERN_TS_INF) + tern_core_server_conn_count(s);
}

/* Preloaded into tern-server by tests/tools/signals.sh: every bind() succeeds and then holds its
 * caller for TERN_TEST_BIND_DELAY_MS milliseconds (300 when unset), so that the moment right after
 * a socket is bound, when a test already sees the port taken, lasts long enough to signal the
 * server in it. Signals interrupt the wait; it goes on to its end. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static bind_fn real;
    const char *env = getenv("TERN_TEST_BIND_DELAY_MS");
    long ms = env ? atol(env) : 300;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    int rc, saved;

    if (!real)
        real = (bind_fn)dlsym(RTLD_NEXT, "bind");
    rc = real(fd, addr, len);
    saved = errno;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    errno = saved;
    return rc;
}

/* Clocks, argument parsing and signal plumbing for the command-line tools. */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t *stop_flag;
static uint64_t log_start_ns;

uint64_t tool_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tool_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

int tool_parse_size(const char *text, uint64_t *out)
{
    uint64_t v = 0, mult = 1;
    const char *p = text;

    if (!text || *p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mult = 1ull << 10;
        p++;
        break;
    case 'm':
    case 'M':
        mult = 1ull << 20;
        p++;
        break;
    case 'g':
    case 'G':
        mult = 1ull << 30;
        p++;
        break;
    default:
        return -1;
    }
    if (*p != '\0' || (v && v > UINT64_MAX / mult))
        return -1;
    *out = v * mult;
    return 0;
}

int tool_parse_cc(const char *text, tern_cc_algo *out)
{
    if (strcmp(text, "cubic") == 0) {
        *out = TERN_CC_CUBIC;
        return 0;
    }
    if (strcmp(text, "newreno") == 0 || strcmp(text, "reno") == 0) {
        *out = TERN_CC_NEWRENO;
        return 0;
    }
    return -1;
}

int tool_add_quic_version(const char *text, tern_config *cfg)
{
    uint32_t v;
    if (strcmp(text, "1") == 0 || strcasecmp(text, "0x00000001") == 0 ||
        strcasecmp(text, "0x1") == 0)
        v = TERN_PROTO_VERSION_1;
    else if (strcmp(text, "2") == 0 || strcasecmp(text, "0x6b3343cf") == 0)
        v = TERN_PROTO_VERSION_2;
    else
        return -1;
    if (cfg->quic_versions_count >= TERN_MAX_QUIC_VERSIONS)
        return -1;
    for (size_t i = 0; i < cfg->quic_versions_count; i++)
        if (cfg->quic_versions[i] == v)
            return -1;
    cfg->quic_versions[cfg->quic_versions_count++] = v;
    return 0;
}

const char *tool_quic_version_name(uint32_t v, char *buf, size_t cap)
{
    if (v == TERN_PROTO_VERSION_1)
        return "v1";
    if (v == TERN_PROTO_VERSION_2)
        return "v2";
    snprintf(buf, cap, "0x%08x", (unsigned)v);
    return buf;
}

static const struct {
    const char *name, *suite, *gnutls;
} aeads[] = {
    {"AES-128-GCM", "TLS_AES_128_GCM_SHA256", "AES-128-GCM"},
    {"AES-256-GCM", "TLS_AES_256_GCM_SHA384", "AES-256-GCM"},
    {"CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256", "CHACHA20-POLY1305"},
};

int tool_parse_ciphers(const char *text, char *out, size_t cap)
{
    static const char *const keywords[] = {"NORMAL", "SECURE", "PERFORMANCE", "NONE", "@"};
    static const char base[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL";
    size_t len;
    const char *p = text;

    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        if (strncmp(text, keywords[i], strlen(keywords[i])) == 0) {
            if (strlen(text) >= cap)
                return -1;
            strcpy(out, text);
            return 0;
        }
    }
    if (sizeof(base) > cap)
        return -1;
    strcpy(out, base);
    len = sizeof(base) - 1;
    while (*p) {
        size_t n = strcspn(p, ",:");
        size_t i, glen;

        for (i = 0; i < sizeof(aeads) / sizeof(aeads[0]); i++) {
            if ((strlen(aeads[i].name) == n && strncasecmp(p, aeads[i].name, n) == 0) ||
                (strlen(aeads[i].suite) == n && strncasecmp(p, aeads[i].suite, n) == 0))
                break;
        }
        if (i == sizeof(aeads) / sizeof(aeads[0]))
            return -1;
        glen = strlen(aeads[i].gnutls);
        if (len + 2 + glen >= cap)
            return -1;
        out[len++] = ':';
        out[len++] = '+';
        memcpy(out + len, aeads[i].gnutls, glen + 1);
        len += glen;
        p += n;
        if (*p)
            p++;
    }
    return len == sizeof(base) - 1 ? -1 : 0;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    /* Counted, so a second signal can mean "stop now, skip the graceful part". */
    if (stop_flag && *stop_flag < 2)
        *stop_flag = *stop_flag + 1;
}

void tool_set_signal(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void tool_install_stop_signals(volatile sig_atomic_t *flag)
{
    stop_flag = flag;
    tool_set_signal(SIGINT, on_stop_signal, 0);
    tool_set_signal(SIGTERM, on_stop_signal, 0);
    signal(SIGPIPE, SIG_IGN);
}

int tool_run_step(tern_endpoint *ep, int cap_ms)
{
    int t = tern_endpoint_timeout_ms(ep);
    int rc;

    if (t < 0 || t > cap_ms)
        t = cap_ms;
    rc = tern_endpoint_run_once(ep, t);
    if (rc == TERN_ERR_IO && errno == EINTR)
        return 0;
    return rc;
}

int tool_log_open(const char *path, FILE **out)
{
    FILE *f = strcmp(path, "-") == 0 ? stderr : fopen(path, "w");

    if (!f)
        return -1;
    if (f != stderr)
        setvbuf(f, NULL, _IOLBF, 0); /* a crash must not lose the last lines */
    log_start_ns = tool_now_ns();
    *out = f;
    return 0;
}

void tool_log_line(void *ud, const char *line)
{
    uint64_t t = tool_now_ns() - log_start_ns;

    fprintf(ud, "[%4llu.%06llu] %s\n", (unsigned long long)(t / 1000000000ull),
            (unsigned long long)(t % 1000000000ull / 1000), line);
}

void tool_log_close(FILE *f)
{
    if (f && f != stderr)
        fclose(f);
}

int tool_keylog_open(const char *path, FILE **out)
{
    /* the secrets decrypt every connection: a new file is readable by its owner only */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    FILE *f;

    if (fd < 0)
        return -1;
    f = fdopen(fd, "a");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    setvbuf(f, NULL, _IOLBF, 0); /* a capture is decrypted while the tool still runs */
    *out = f;
    return 0;
}

void tool_keylog_line(void *ud, const char *line)
{
    fprintf(ud, "%s\n", line);
}

int tool_qlog_dir_check(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return access(dir, W_OK | X_OK);
}

void tool_print_version(const char *name)
{
    int num;
    const char *lib = tern_version(&num);
    printf("%s %s\n", name, TERN_VERSION_STRING);
    if (num != TERN_VERSION_NUM) /* linked against another libtern than the one it was built for */
        printf("libtern %s\n", lib);
}

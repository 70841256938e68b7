/* Small helpers shared by tern-server and tern-client: clocks, number parsing with size suffixes,
 * stop-signal handling and the event-loop step both tools run between signal checks. */
#ifndef TOOLS_COMMON_UTIL_H
#define TOOLS_COMMON_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tern/tern.h"

/* Monotonic clock in nanoseconds. */
uint64_t tool_now_ns(void);
/* Wall-clock milliseconds since the Unix epoch (CLOCK_REALTIME), for matching other programs'
 * timestamps. */
uint64_t tool_unix_ms(void);

/* Parses a decimal unsigned integer with an optional K, M or G suffix (powers of 1024).
 * Returns 0, or -1 on malformed text or overflow. */
int tool_parse_size(const char *text, uint64_t *out);

/* Parses "cubic" or "newreno" (also "reno"). Returns 0 or -1. */
int tool_parse_cc(const char *text, tern_cc_algo *out);
/* --quic-version: "1" or "2" (also their numbers, "0x00000001", "0x6b3343cf") appended to
 * cfg->quic_versions. Returns 0, or -1 for another value, a repeated one or too many. */
int tool_add_quic_version(const char *text, tern_config *cfg);
/* "v1", "v2" or the version number in hex, for reports. */
const char *tool_quic_version_name(uint32_t v, char *buf, size_t cap);

#define TOOL_PRIORITY_MAX 512

/* Turns a --ciphers argument into a GnuTLS priority string for tern_config.tls_priority: a list of
 * TLS 1.3 AEAD names separated by ',' or ':' (AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305, any
 * case, or the TLS_AES_128_GCM_SHA256-style suite names) becomes "TLS 1.3 with exactly those";
 * text starting with a GnuTLS keyword (NORMAL, SECURE, PERFORMANCE, NONE, @) is taken as a whole
 * priority string. Returns 0, or -1 for an unknown name or text that does not fit. */
int tool_parse_ciphers(const char *text, char *out, size_t cap);

/* Installs SIGINT/SIGTERM handlers that count signals in *flag, up to 2 (without SA_RESTART, so a
 * blocking wait returns early) and ignores SIGPIPE (a closed stdout must surface as a write error,
 * not kill us). */
void tool_install_stop_signals(volatile sig_atomic_t *flag);
/* Installs `handler` for `sig` (sigaction with `flags`, e.g. SA_RESTART, and an empty mask). */
void tool_set_signal(int sig, void (*handler)(int), int flags);

/* One loop iteration: waits for the endpoint's next timer but never longer than `cap_ms`, so a
 * stop flag set by a signal is seen promptly even if the wait was not interrupted. Returns what
 * tern_endpoint_run_once returns, with an interrupted wait reported as 0. */
int tool_run_step(tern_endpoint *ep, int cap_ms);

/* tern's debug log (tern_config.log) for the tools' --log option: `path` "-" is stderr. Lines get
 * the seconds since the log was opened. Returns 0, or -1 with errno set. */
int tool_log_open(const char *path, FILE **out);
/* A tern_log_fn; `ud` is the FILE from tool_log_open. */
void tool_log_line(void *ud, const char *line);
/* Closes what tool_log_open opened (NULL and stderr are left alone). */
void tool_log_close(FILE *f);
/* Prints "NAME VERSION" (tern/version.h) on stdout, and the library's own version when it differs
 * (a tool run with another libtern than the one it was built against). */
void tool_print_version(const char *name);

/* The TLS key log (tern_config.keylog) for the tools' --keylog option: lines of the NSS key log
 * format appended to `path` (created with mode 0600), one per secret, each written out at once.
 * Returns 0, or -1 with errno set. Close it with tool_log_close. */
int tool_keylog_open(const char *path, FILE **out);
/* A tern_keylog_fn; `ud` is the FILE from tool_keylog_open. */
void tool_keylog_line(void *ud, const char *line);
/* The tools' --qlog-dir DIR: 0 when DIR is a directory tern can create files in, else -1 with
 * errno set (ENOTDIR, EACCES, ...). */
int tool_qlog_dir_check(const char *dir);

#endif

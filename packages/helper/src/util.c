/*
 * Errors, argument parsing and plain I/O helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char *const CODE_NAMES[] = {
    [ERR_INVALID_PATH] = "invalid_path",
    [ERR_NOT_FOUND] = "not_found",
    [ERR_NOT_A_DIRECTORY] = "not_a_directory",
    [ERR_IS_A_DIRECTORY] = "is_a_directory",
    [ERR_EXISTS] = "exists",
    [ERR_ESCAPES_ROOT] = "escapes_root",
    [ERR_LOOP] = "loop",
    [ERR_TOO_LARGE] = "too_large",
    [ERR_PERMISSION_DENIED] = "permission_denied",
    [ERR_UNSUPPORTED_TYPE] = "unsupported_type",
    [ERR_INVALID_ARCHIVE] = "invalid_archive",
    [ERR_NOT_EMPTY] = "not_empty",
    [ERR_IO_ERROR] = "io_error",
    [ERR_USAGE] = "usage",
};

static void (*cleanup_fn)(void);

void set_cleanup(void (*fn)(void)) { cleanup_fn = fn; }

enum errcode errno_code(int err) {
  switch (err) {
  case ENOENT:
    return ERR_NOT_FOUND;
  case ENOTDIR:
    return ERR_NOT_A_DIRECTORY;
  case EISDIR:
    return ERR_IS_A_DIRECTORY;
  case EEXIST:
    return ERR_EXISTS;
  case ELOOP:
    return ERR_LOOP;
  case EACCES:
  case EPERM:
  case EROFS:
    return ERR_PERMISSION_DENIED;
  case ENOTEMPTY:
    return ERR_NOT_EMPTY;
  case EFBIG:
    return ERR_TOO_LARGE;
  case ENAMETOOLONG:
    return ERR_INVALID_PATH;
  default:
    return ERR_IO_ERROR;
  }
}

/* Formats the message and writes {"error":..,"message":..} as one line with one write(2). */
static void emit(enum errcode code, const char *fmt, va_list ap, int err) {
  char msg[1024];
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  if (n < 0) n = 0;
  size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
  if (err) {
    int m = snprintf(msg + len, sizeof msg - len, ": %s", strerror(err));
    if (m > 0) len += (size_t)m < sizeof msg - len ? (size_t)m : sizeof msg - len - 1;
  }
  char line[8192];
  struct sink s = {.fd = -1, .data = line, .len = 0, .cap = sizeof line - 2};
  sink_str(&s, "{\"error\":\"");
  sink_str(&s, CODE_NAMES[code]);
  sink_str(&s, "\",\"message\":");
  json_string(&s, msg, len);
  line[s.len++] = '}';
  line[s.len++] = '\n';
  ssize_t w;
  do {
    w = write(2, line, s.len);
  } while (w < 0 && errno == EINTR);
}

void report_error(enum errcode code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(code, fmt, ap, 0);
  va_end(ap);
}

/*
 * Commands that consume stdin (fs write, fs tar-extract) read it to EOF before exiting on an
 * error: the caller is usually still sending, and input in flight when a process exits makes
 * some engines drop its output (Podman 4.3's conmon resets the attach socket), error line included.
 */
static bool drain_on_exit;

void set_drain_stdin_on_exit(bool on) { drain_on_exit = on; }

static void drain_stdin(void) {
  if (!drain_on_exit) return;
  static char sink[65536];
  for (;;) {
    ssize_t r = read(0, sink, sizeof sink);
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    return;
  }
}

_Noreturn void die(enum errcode code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (cleanup_fn) {
    void (*fn)(void) = cleanup_fn;
    cleanup_fn = NULL; /* a failure inside the cleanup must not recurse */
    fn();
  }
  emit(code, fmt, ap, 0);
  va_end(ap);
  drain_stdin();
  /* Buffered stdout is dropped on purpose: nothing further is written after a failure. */
  _exit(2);
}

_Noreturn void die_errno(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (cleanup_fn) {
    void (*fn)(void) = cleanup_fn;
    cleanup_fn = NULL;
    fn();
  }
  emit(errno_code(err), fmt, ap, err);
  va_end(ap);
  drain_stdin();
  _exit(2);
}

uint64_t parse_u64(const char *s, const char *what) {
  if (!*s) die(ERR_USAGE, "%s must be a non-negative integer", what);
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') die(ERR_USAGE, "%s must be a non-negative integer", what);
    if (v > (UINT64_MAX - 9) / 10) die(ERR_USAGE, "%s is too large", what);
    v = v * 10 + (uint64_t)(*p - '0');
  }
  return v;
}

bool parse_bool01(const char *s, const char *what) {
  if (strcmp(s, "1") == 0) return true;
  if (strcmp(s, "0") == 0) return false;
  die(ERR_USAGE, "%s must be 0 or 1", what);
}

mode_t parse_mode(const char *s) {
  if (!*s || strlen(s) > 6) die(ERR_USAGE, "mode must be octal permission bits such as 644");
  unsigned v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '7') die(ERR_USAGE, "mode must be octal permission bits such as 644");
    v = v * 8 + (unsigned)(*p - '0');
  }
  if (v > 07777) die(ERR_USAGE, "mode must be octal permission bits such as 644");
  if (v & 07000) die(ERR_INVALID_PATH, "setuid, setgid and sticky bits are refused (mode %s)", s);
  return (mode_t)v;
}

size_t read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      die_errno(errno, "read failed");
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  return got;
}

void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die_errno(errno, "write failed");
    }
    p += w;
    n -= (size_t)w;
  }
}

void xclose(int fd) {
  if (fd >= 0) close(fd);
}

int xdup(int fd) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) die_errno(errno, "dup failed");
  return d;
}

_Noreturn void exit_exec_failed(const char *cmd, int err) {
  if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG || err == ELOOP) {
    report_error(ERR_NOT_FOUND, "cannot run \"%.200s\": %s", cmd, strerror(err));
    _exit(127);
  }
  report_error(err == EACCES || err == EPERM || err == EISDIR || err == ENOEXEC || err == ETXTBSY
                   ? ERR_PERMISSION_DENIED
                   : ERR_IO_ERROR,
               "cannot run \"%.200s\": %s", cmd, strerror(err));
  _exit(126);
}

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vlog_line(const char *prefix, const char *fmt, va_list ap) {
  char line[1024];
  size_t plen = strlen(prefix);
  if (plen > 64) plen = 64;
  memcpy(line, prefix, plen);
  size_t room = sizeof line - plen - 1; /* leaves one byte for the newline */
  int n = vsnprintf(line + plen, room + 1, fmt, ap);
  size_t len = plen + (n < 0 ? 0 : (size_t)n < room ? (size_t)n : room);
  line[len++] = '\n';
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(2, line + off, len - off);
    if (w > 0) {
      off += (size_t)w;
    } else if (!(w < 0 && errno == EINTR)) {
      return; /* nobody reads stderr: nothing to be done */
    }
  }
}

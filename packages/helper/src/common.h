/*
 * berth-helper: shared declarations.
 *
 * The helper is a one-shot CLI (see ../CONTRACT.md). Every failure path ends the process through
 * die(), which prints exactly one JSON line on stderr and exits with 2, so the command code reads
 * top to bottom without error plumbing. Resources that must not survive a failure (a temporary
 * file, a half-written extracted file) are registered with set_cleanup().
 */
#ifndef BERTH_HELPER_COMMON_H
#define BERTH_HELPER_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define HELPER_VERSION "0.1.0"

#define PATH_LIMIT 4096 /* longest path argument or archive name, bytes */
#define NAME_LIMIT 255  /* longest component, bytes */
#define MAX_LINKS 40    /* symlinks followed while resolving one path */
#define MAX_DEPTH 256   /* directory levels walked by list, remove and tar */
#define IO_CHUNK 65536  /* read/write buffer size: file contents are always streamed */

enum errcode {
  ERR_INVALID_PATH,
  ERR_NOT_FOUND,
  ERR_NOT_A_DIRECTORY,
  ERR_IS_A_DIRECTORY,
  ERR_EXISTS,
  ERR_ESCAPES_ROOT,
  ERR_LOOP,
  ERR_TOO_LARGE,
  ERR_PERMISSION_DENIED,
  ERR_UNSUPPORTED_TYPE,
  ERR_INVALID_ARCHIVE,
  ERR_NOT_EMPTY,
  ERR_IO_ERROR,
  ERR_USAGE,
};

/* ---- util.c: errors, argument parsing, plain I/O ---- */

_Noreturn void die(enum errcode code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like die(), with the code derived from errno value `err` and strerror appended to the message. */
_Noreturn void die_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum errcode errno_code(int err);
/* Prints the error line without exiting (used by `run`, whose exit codes are 126/127). */
void report_error(enum errcode code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes die() read stdin to EOF (after printing the error) before exiting; see util.c. */
void set_drain_stdin_on_exit(bool on);
/* One function run by die() before exiting; NULL clears it. */
void set_cleanup(void (*fn)(void));

uint64_t parse_u64(const char *s, const char *what);
bool parse_bool01(const char *s, const char *what);
/* Octal permission bits (e.g. "644"); setuid/setgid/sticky are refused with invalid_path. */
mode_t parse_mode(const char *s);

/* Reads up to n bytes, retrying short reads and EINTR; returns fewer only at end of file. */
size_t read_full(int fd, void *buf, size_t n);
void write_all(int fd, const void *buf, size_t n);
/* Monotonic milliseconds. */
int64_t now_ms(void);
/* One line on stderr, `prefix` then the message (cut to fit 1 KiB), in one write(2) where possible. */
void vlog_line(const char *prefix, const char *fmt, va_list ap);
void xclose(int fd);
int xdup(int fd);

/* ---- json.c: an output buffer and JSON string encoding ---- */

/* A byte sink: flushed to fd when full, or (fd < 0) silently truncated at cap. */
struct sink {
  int fd;
  char *data;
  size_t len, cap;
};
extern struct sink out; /* stdout */

void sink_put(struct sink *s, const void *p, size_t n);
void sink_str(struct sink *s, const char *str);
void sink_i64(struct sink *s, int64_t v);
void sink_flush(struct sink *s);
/* Writes `p[0..n)` as a quoted JSON string: always valid JSON, bad UTF-8 bytes become \u00XX. */
void json_string(struct sink *s, const char *p, size_t n);

/* ---- path.c: path rules and the safe walk ---- */

/* Checks a relative path against the rules and writes it without "." components into dst
 * (PATH_LIMIT + 1 bytes). Dies with invalid_path naming `what` when a rule is broken. */
void path_normalize(const char *path, char *dst, const char *what);
/* Opens the absolute root directory (O_PATH). */
int open_root(const char *root);
/* Last component of a normalized path ("" for the root). */
const char *path_basename(const char *norm);
/* Last component of the root path, e.g. "workspace" for "/workspace" ("" for "/"). */
const char *root_basename(const char *root);

enum {
  W_FOLLOW = 1,     /* follow a final symlink (under the rules) */
  W_MKDIRS = 2,     /* create missing intermediate directories (0755) */
  W_MISSING_OK = 4, /* the final component may be absent (w->exists is then false) */
};

#define REL_MAX 8192 /* longest path reached by rewriting symlinks while walking */

struct walk {
  int dirfd;                  /* O_PATH fd of the final component's directory */
  int fd;                     /* O_PATH|O_NOFOLLOW fd of the final component, -1 when absent */
  bool exists;                /* false only with W_MISSING_OK */
  struct stat st;             /* of fd, when it exists (lstat semantics without W_FOLLOW) */
  char name[NAME_LIMIT + 1];  /* final component; "" when the result is the root itself */
  char rel[REL_MAX + 1];      /* resolved path of the result relative to the root */
  int depth;                  /* components in rel */
};

void walk(int rootfd, const char *norm, unsigned flags, struct walk *w);
void walk_release(struct walk *w);
/* Opens the walked regular file for reading, checking it is still the inode the walk saw. */
int walk_open_regular(const struct walk *w, const char *display);

/* A getdents64 reader with its own buffer (one per open directory during recursion). */
struct dir_iter {
  int fd;
  size_t pos, len;
  char buf[8192];
};
struct dir_iter *dir_iter_new(int fd);
/* Next entry name other than "." and ".."; NULL at the end. Dies on read errors. */
const char *dir_iter_next(struct dir_iter *it, unsigned char *dtype);
void dir_iter_rewind(struct dir_iter *it);
void dir_iter_free(struct dir_iter *it);

/* Reports a failed execvp of `cmd` (errno `err`) and exits: 127 and not_found when it does not
 * exist, 126 and permission_denied (or io_error) when it cannot be executed. */
_Noreturn void exit_exec_failed(const char *cmd, int err);

/* ---- boot.c: the env file (`boot --env-file`, `run --env-file`) ---- */

#define ENV_FILE_MAX (1024 * 1024) /* largest env file, bytes */

/* The env file's records, `KEY=VALUE\0` each, checked by envfile_load. */
struct envfile {
  char *data;
  size_t len;
};

/* Reads and checks the env file; returns false (leaving ef empty) when it does not exist. Dies
 * (exit 2) when it cannot be read, is too large or is malformed; messages never quote it. */
bool envfile_load(const char *path, struct envfile *ef);
/* setenv()s every record (overwriting); returns 0 or an errno value. */
int envfile_apply(struct envfile *ef);
/* Wipes and frees the records. */
void envfile_free(struct envfile *ef);

/* ---- forward.c: the egress forwarder started by `boot` ---- */

/* Relays every TCP connection accepted on listen_fd to a new connection to the Unix socket
 * socket_path, after the line `BERTH-EGRESS <token>\n` (token: first line of token_file, read
 * for each connection). Exits only when the listener fails; `listen_desc` names it in logs. */
_Noreturn void forward_run(int listen_fd, const char *socket_path, const char *token_file, const char *listen_desc);

/* ---- commands ---- */

int cmd_fs(int argc, char **argv);
int cmd_tar_create(int argc, char **argv);
int cmd_tar_extract(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_kill(int argc, char **argv);
/* agent.c: the reference agent; never returns (exits on a signal, the command's end or a timer). */
int cmd_agent(int argc, char **argv);
/* boot.c: the container entrypoint (env file, egress forwarder, then exec). Takes main's full
 * argv (argv[0] and "boot" included): the forwarder rewrites that memory as its process title. */
int cmd_boot(int argc, char **argv);

#endif

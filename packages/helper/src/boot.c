/*
 * `boot`: the workspace container's entrypoint (../CONTRACT.md, "workspace boot").
 *
 *   boot [--env-file <file>] [--egress-listen <ip:port> --egress-socket <path>
 *        --egress-token-file <file> [--egress-pidfile <file>]] -- <argv...>
 *
 * Applies the env file (secrets Berth hands the workspace), then, with --egress-listen, binds the
 * loopback TCP port of the egress forwarder *before* exec'ing argv, so the port accepts as soon as
 * the agent starts. The forwarder (forward.c) runs in a daemon process made by a double fork:
 * boot -> intermediate (setsid, fork, exit) -> forwarder. The intermediate is reaped here before
 * the exec, so the forwarder is not a child of argv (a program that waits for all its children,
 * or a shell's `wait`, never sees it); it is re-parented to the container's init (docker-init),
 * which reaps it should it ever exit. boot itself then execs argv: the agent keeps boot's pid, the
 * direct child of PID 1, and gets signals as the image's entrypoint would.
 *
 * The env file holds `KEY=VALUE` records, each ended by a NUL byte (so a value may hold newlines
 * and `=`). It is read whole (at most ENV_FILE_MAX bytes), checked completely before any variable
 * is set, and wiped from memory once applied. No message quotes a name or a value of it: a
 * malformed record is named by its number and offset only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* ---- the env file ---- */

static bool name_ok(const char *p, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!alpha && (i == 0 || c < '0' || c > '9')) return false;
  }
  return true;
}

bool envfile_load(const char *path, struct envfile *ef) {
  ef->data = NULL;
  ef->len = 0;
  /* O_NONBLOCK: a FIFO put there must not hang the boot (it is refused below). */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    die_errno(errno, "cannot open the env file \"%.200s\"", path);
  }
  struct stat st;
  if (fstat(fd, &st) < 0) die_errno(errno, "cannot stat the env file \"%.200s\"", path);
  if (!S_ISREG(st.st_mode)) die(ERR_UNSUPPORTED_TYPE, "the env file \"%.200s\" is not a regular file", path);
  if (st.st_size > ENV_FILE_MAX)
    die(ERR_TOO_LARGE, "the env file \"%.200s\" is larger than %d bytes", path, ENV_FILE_MAX);
  /* One byte more than the limit, to notice a file that grew past it since the fstat. (malloc
   * maps a block this size lazily: only the pages read into are used.) */
  char *data = malloc(ENV_FILE_MAX + 1);
  if (!data) die(ERR_IO_ERROR, "out of memory");
  size_t got = 0;
  while (got < ENV_FILE_MAX + 1) {
    ssize_t r = read(fd, data + got, ENV_FILE_MAX + 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die_errno(errno, "cannot read the env file \"%.200s\"", path);
    if (r == 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got > ENV_FILE_MAX) {
    explicit_bzero(data, got);
    die(ERR_TOO_LARGE, "the env file \"%.200s\" is larger than %d bytes", path, ENV_FILE_MAX);
  }
  /* Check every record before anything is applied. */
  size_t record = 0;
  for (size_t off = 0; off < got;) {
    record++;
    const char *p = data + off;
    const char *nul = memchr(p, '\0', got - off);
    const char *msg = NULL;
    if (!nul) {
      msg = "is not terminated by a NUL byte";
    } else {
      const char *eq = memchr(p, '=', (size_t)(nul - p));
      if (!eq) msg = "has no '='";
      else if (!name_ok(p, (size_t)(eq - p))) msg = "has an invalid variable name";
    }
    if (msg) {
      explicit_bzero(data, got);
      die(ERR_USAGE, "the env file \"%.200s\" is malformed: record %zu (at byte %zu) %s", path, record, off, msg);
    }
    off = (size_t)(nul - data) + 1;
  }
  ef->data = data;
  ef->len = got;
  return true;
}

int envfile_apply(struct envfile *ef) {
  for (size_t off = 0; off < ef->len;) {
    char *p = ef->data + off;
    size_t n = strlen(p); /* checked: every record ends with a NUL inside the buffer */
    char *eq = strchr(p, '=');
    *eq = '\0';
    int r = setenv(p, eq + 1, 1);
    *eq = '=';
    if (r < 0) return errno;
    off += n + 1;
  }
  return 0;
}

void envfile_free(struct envfile *ef) {
  if (ef->data) {
    explicit_bzero(ef->data, ef->len);
    free(ef->data);
  }
  ef->data = NULL;
  ef->len = 0;
}

/* ---- the listener ---- */

/* "a.b.c.d:port" or "[v6]:port" → a bound, listening, non-blocking TCP socket. */
static int listen_on(const char *spec) {
  const char *colon = strrchr(spec, ':');
  size_t hlen = colon ? (size_t)(colon - spec) : 0;
  char host[64];
  if (!colon || hlen == 0 || hlen >= sizeof host) die(ERR_USAGE, "--egress-listen must be <ip>:<port>");
  memcpy(host, spec, hlen);
  host[hlen] = '\0';
  char *end;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  if (colon[1] < '0' || colon[1] > '9' || *end || errno || port < 1 || port > 65535)
    die(ERR_USAGE, "--egress-listen: the port must be between 1 and 65535");
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  int family;
  if (host[0] == '[' && host[hlen - 1] == ']') {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    host[hlen - 1] = '\0';
    if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1) die(ERR_USAGE, "--egress-listen: invalid IPv6 address");
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    family = AF_INET6;
    len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) die(ERR_USAGE, "--egress-listen: invalid IPv4 address");
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    family = AF_INET;
    len = sizeof *a;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno(errno, "cannot create the egress listener");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* a restart must not meet TIME_WAIT */
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) die_errno(errno, "cannot listen on %.100s", spec);
  if (listen(fd, SOMAXCONN) < 0) die_errno(errno, "cannot listen on %.100s", spec);
  return fd;
}

/* ---- the forwarder process ---- */

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Closes every descriptor from `low` up. */
static void close_from(int low) {
  if (syscall(SYS_close_range, (unsigned)low, ~0U, 0) == 0) return;
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = low; fd < max; fd++) close(fd);
}

/* Rewrites the argv area (what /proc/<pid>/cmdline and ps show) to "berth-helper egress-forward".
 * Only the contiguous argv strings are reused; the environment after them is left alone. */
static void set_title(int argc, char **argv) {
  static const char title[] = "berth-helper\0egress-forward"; /* sizeof counts the final NUL */
  char *start = argv[0], *end = argv[0] + strlen(argv[0]) + 1;
  for (int i = 1; i < argc && argv[i] == end; i++) end = argv[i] + strlen(argv[i]) + 1;
  size_t room = (size_t)(end - start);
  memset(start, 0, room);
  memcpy(start, title, room < sizeof title ? room - 1 : sizeof title);
}

/* The forwarder's own copies: set_title() overwrites the argv strings the options point into. */
static char fwd_socket[sizeof ((struct sockaddr_un *)0)->sun_path];
static char fwd_token_file[PATH_LIMIT + 1];
static char fwd_listen[128];

static _Noreturn void become_forwarder(int lfd, int argc, char **argv) {
  /* stdin and stdout from /dev/null, stderr kept for diagnostics, the listener on fd 3, nothing
   * else: no descriptor of the agent's (or of docker's) stays open in the daemon. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
  }
  if (lfd != 3 && dup2(lfd, 3) < 0) _exit(1);
  close_from(4);
  set_title(argc, argv);
  forward_run(3, fwd_socket, fwd_token_file, fwd_listen);
}

/* Double fork: returns the forwarder's pid once it runs in its own session, not our child. */
static pid_t start_forwarder(int lfd, struct envfile *ef, int argc, char **argv) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) die_errno(errno, "pipe failed");
  pid_t mid = fork();
  if (mid < 0) die_errno(errno, "fork failed");
  if (mid == 0) {
    close(pfd[0]);
    setsid();
    pid_t fwd = fork();
    if (fwd == 0) {
      close(pfd[1]);
      envfile_free(ef); /* the forwarder has no use for the secrets */
      become_forwarder(lfd, argc, argv);
    }
    int report = fwd > 0 ? (int)fwd : -errno;
    ssize_t w = write(pfd[1], &report, sizeof report);
    (void)w;
    _exit(0);
  }
  close(pfd[1]);
  int report = 0;
  ssize_t n;
  do {
    n = read(pfd[0], &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  close(pfd[0]);
  while (waitpid(mid, NULL, 0) < 0 && errno == EINTR) {
  }
  if (n != (ssize_t)sizeof report) die(ERR_IO_ERROR, "cannot start the egress forwarder");
  if (report < 0) die_errno(-report, "cannot start the egress forwarder: fork failed");
  return (pid_t)report;
}

static pid_t forwarder = -1;

static void stop_forwarder(void) {
  if (forwarder > 0) kill(forwarder, SIGKILL);
  forwarder = -1;
}

/* pid, newline; written aside and renamed, so a reader never sees half of it. */
static void write_pidfile(const char *path, pid_t pid) {
  char tmp[PATH_LIMIT + 64], content[32];
  if (strlen(path) > PATH_LIMIT) die(ERR_INVALID_PATH, "the pidfile path is too long");
  int n = snprintf(content, sizeof content, "%d\n", (int)pid);
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, content, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
    int err = errno;
    unlink(tmp);
    die_errno(err, "cannot write the pidfile \"%.200s\"", path);
  }
}

#define BOOT_USAGE                                                                                  \
  "usage: boot [--env-file <file>] [--egress-listen <ip:port> --egress-socket <path> "             \
  "--egress-token-file <file> [--egress-pidfile <file>]] -- <argv...>"

int cmd_boot(int argc, char **argv) {
  const char *env_file = NULL, *listen_spec = NULL, *socket_path = NULL, *token_file = NULL, *pidfile = NULL;
  int i = 2; /* argv[0] is the helper, argv[1] "boot" */
  for (; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--env-file") == 0 && has_value) {
      env_file = argv[++i];
    } else if (strcmp(a, "--egress-listen") == 0 && has_value) {
      listen_spec = argv[++i];
    } else if (strcmp(a, "--egress-socket") == 0 && has_value) {
      socket_path = argv[++i];
    } else if (strcmp(a, "--egress-token-file") == 0 && has_value) {
      token_file = argv[++i];
    } else if (strcmp(a, "--egress-pidfile") == 0 && has_value) {
      pidfile = argv[++i];
    } else if (strcmp(a, "--") == 0) {
      break;
    } else {
      die(ERR_USAGE, BOOT_USAGE);
    }
  }
  if (i >= argc - 1) die(ERR_USAGE, BOOT_USAGE);
  char **cmd = argv + i + 1;
  bool egress = listen_spec || socket_path || token_file || pidfile;
  if (egress && !(listen_spec && socket_path && token_file))
    die(ERR_USAGE, "--egress-listen, --egress-socket and --egress-token-file go together; " BOOT_USAGE);
  if (egress) {
    if (!*socket_path || strlen(socket_path) >= sizeof fwd_socket)
      die(ERR_USAGE, "--egress-socket must be a path of 1 to %zu bytes", sizeof fwd_socket - 1);
    if (!*token_file || strlen(token_file) > PATH_LIMIT) die(ERR_USAGE, "--egress-token-file is too long");
    if (strlen(listen_spec) >= sizeof fwd_listen) die(ERR_USAGE, "--egress-listen must be <ip>:<port>");
    memcpy(fwd_socket, socket_path, strlen(socket_path) + 1);
    memcpy(fwd_token_file, token_file, strlen(token_file) + 1);
    memcpy(fwd_listen, listen_spec, strlen(listen_spec) + 1);
  }

  /* Checked before the forwarder starts: a bad env file ends the boot with nothing left behind. */
  struct envfile ef = {0};
  if (env_file) envfile_load(env_file, &ef);

  if (egress) {
    int lfd = listen_on(listen_spec);
    forwarder = start_forwarder(lfd, &ef, argc, argv);
    close(lfd); /* the forwarder's now; argv never inherits it */
    set_cleanup(stop_forwarder); /* a failure from here on leaves no forwarder behind */
    if (pidfile) write_pidfile(pidfile, forwarder);
  }

  if (ef.data) {
    int err = envfile_apply(&ef);
    envfile_free(&ef);
    if (err) die_errno(err, "cannot set the env file's variables");
  }
  set_cleanup(NULL);
  execvp(cmd[0], cmd);
  int err = errno;
  stop_forwarder();
  if (pidfile) unlink(pidfile);
  exit_exec_failed(cmd[0], err);
}

/*
 * `run`: command supervision, and `kill --pidfile`. (`run --tty`: see "terminals" below.)
 *
 * The helper becomes a child subreaper, starts argv in a new session (hence a new process
 * group, pgid = sid = child pid) with a pipe as its stdin, and then multiplexes three inputs
 * with poll(2): its own stdin (the framed control channel), a signalfd (SIGCHLD, control
 * signals) and the child's stdin pipe (when data is waiting to be written). Everything is
 * non-blocking, so a child that stops reading its stdin never stops the helper from handling a
 * kill. Data frames are buffered up to 1 MiB for a slow reader; past that the helper stops
 * reading its stdin (so a kill frame queued behind more unread data waits for the child to
 * drain it; `kill --pidfile` and dropping the connection act at once).
 *
 * How `kill --pidfile` reaches a running helper (the contract leaves the mechanism to us):
 * a queued real-time signal, CTL_SIGNAL (SIGRTMIN+1), whose si_value carries the request:
 * 0 = kill the whole tree (frame 3), n in 1..64 = send signal n to the child's process group
 * (frame 2). Real-time signals queue, so two quick requests are both delivered, and sigqueue's
 * value needs no side file or FIFO. The sender first proves the pid is a `berth-helper run`
 * (argv[1] is "run", and /proc/<pid>/exe is its own executable or the process has the same
 * name) and, where the
 * kernel has pidfds, signals through a pidfd opened before that check, so a recycled pid can
 * never receive the signal. SIGUSR1 (e.g. `kill -USR1 <pid>` by hand) also kills the tree, and
 * SIGTERM, SIGINT and SIGHUP to the helper kill the tree before it exits, so no orphan survives
 * its supervisor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define CTL_SIGNAL (SIGRTMIN + 1)
#define PENDING_CAP (1024 * 1024) /* data frames buffered for a child that reads slowly */
#define READ_CHUNK IO_CHUNK

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum { FRAME_DATA = 0, FRAME_CLOSE = 1, FRAME_SIGNAL = 2, FRAME_KILL = 3 };

static pid_t child;       /* the main child, also its process group id */
static int child_status;  /* wait status, valid when have_status */
static bool have_status;
static const char *pidfile;
static char pidfile_content[32];
static struct envfile run_env; /* --env-file: checked before the fork, applied in the child */

/* ---- reaping and killing ---- */

/* Reaps every exited child; returns whether children (running or not yet reaped) remain. */
static bool reap(void) {
  for (;;) {
    int st;
    pid_t r = waitpid(-1, &st, WNOHANG | __WALL);
    if (r > 0) {
      if (r == child) {
        child_status = st;
        have_status = true;
      }
      continue;
    }
    if (r == 0) return true;
    if (errno == EINTR) continue;
    return false; /* ECHILD */
  }
}

struct proc {
  pid_t pid, ppid, sid;
  bool marked;
};

static int cmp_proc(const void *a, const void *b) {
  const struct proc *x = a, *y = b;
  return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Reads pid, state, ppid and session of every process in /proc; zombies (already dead) are left
 * out. Returns the count, or -1 when /proc cannot be read. *list is malloc'ed, sorted by pid. */
static long read_procs(struct proc **list) {
  DIR *d = opendir("/proc");
  if (!d) return -1;
  struct proc *v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *endp;
    long pid = strtol(e->d_name, &endp, 10);
    if (*endp || pid <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = '\0';
    /* "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses, so parse
     * after the last ')'. */
    char *rp = strrchr(buf, ')');
    char state;
    long ppid, pgrp, sid;
    if (!rp || sscanf(rp + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &sid) != 4 || state == 'Z') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      struct proc *nv = realloc(v, cap * sizeof *nv);
      if (!nv) break; /* out of memory: work with what we have */
      v = nv;
    }
    v[n++] = (struct proc){.pid = (pid_t)pid, .ppid = (pid_t)ppid, .sid = (pid_t)sid};
  }
  closedir(d);
  if (n > 1) qsort(v, n, sizeof *v, cmp_proc);
  *list = v;
  return (long)n;
}

/* SIGKILLs, all at once, every live process of the tree: the helper's children (as subreaper it
 * adopts orphaned descendants, a double-forked daemon included), every member of the child's
 * session (the child is a session leader: this catches orphans even where the kernel has no
 * subreaper support, e.g. older gVisor), and every descendant of those through parent links.
 * Collecting before killing means no process is lost to reparenting mid-way. Returns how many
 * processes were signalled, or -1 without /proc. */
static long kill_descendants(void) {
  struct proc *v = NULL;
  long n = read_procs(&v);
  if (n < 0) return -1;
  pid_t self = getpid();
  for (long i = 0; i < n; i++) v[i].marked = v[i].pid != self && (v[i].ppid == self || v[i].sid == child);
  for (bool changed = true; changed;) { /* propagate to descendants, one generation per pass */
    changed = false;
    for (long i = 0; i < n; i++) {
      if (v[i].marked || v[i].pid == self) continue;
      struct proc key = {.pid = v[i].ppid};
      struct proc *parent = bsearch(&key, v, (size_t)n, sizeof *v, cmp_proc);
      if (parent && parent->marked) v[i].marked = changed = true;
    }
  }
  long signalled = 0;
  for (long i = 0; i < n; i++)
    if (v[i].marked && kill(v[i].pid, SIGKILL) == 0) signalled++; /* EPERM (setuid): cannot help */
  free(v);
  return signalled;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Kills the child's process group and every descendant, and reaps them, until none is left. */
static void kill_tree(void) {
  double start = now_s();
  for (;;) {
    /* The scan goes first: killing the group first would orphan what hangs below it. */
    long signalled = kill_descendants();
    kill(-child, SIGKILL);
    bool children = reap();
    if (signalled <= 0 && !children) break;
    /* Without /proc only the process group is reachable: stop once the main child is gone. */
    if (signalled < 0 && have_status) break;
    /* Processes we cannot kill (setuid) or that never die (uninterruptible sleep): give up
     * after a while rather than hang; the caller still gets the child's status when it ends. */
    if (now_s() - start > 10) break;
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* ---- pidfile ---- */

static void restore_tty(void);

static void write_pidfile(void) {
  int n = snprintf(pidfile_content, sizeof pidfile_content, "%d\n", (int)getpid());
  char tmp[PATH_LIMIT + 64];
  if (strlen(pidfile) > PATH_LIMIT) {
    report_error(ERR_INVALID_PATH, "the pidfile path is too long");
    kill_tree();
    restore_tty();
    _exit(2);
  }
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", pidfile, (int)getpid());
  /* Written aside and renamed, so a reader never sees a half-written pid. */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, pidfile_content, (size_t)n) != n || close(fd) < 0 || rename(tmp, pidfile) < 0) {
    int err = errno;
    unlink(tmp);
    report_error(errno_code(err), "cannot write the pidfile \"%.200s\": %s", pidfile, strerror(err));
    kill_tree();
    restore_tty();
    _exit(2);
  }
}

/* Removes the pidfile unless another helper has taken the name over since. */
static void remove_pidfile(void) {
  if (!pidfile) return;
  char buf[32];
  int fd = open(pidfile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0 && (size_t)n == strlen(pidfile_content) && memcmp(buf, pidfile_content, (size_t)n) == 0)
    unlink(pidfile);
}

/* ---- terminals (`run --tty`) ----
 *
 * The child takes the helper's terminal (stdin, stdout and stderr are inherited as they are). A
 * terminal is the controlling terminal of one session at most, so how the child gets it depends
 * on where the helper stands:
 *   TTY_SESSION: the helper leads the session that owns the terminal (docker exec -t does
 *     setsid + TIOCSCTTY for it). It gives the terminal up (TIOCNOTTY) and the child, in a new
 *     session, takes it (setsid + TIOCSCTTY): Ctrl-C reaches the child's foreground group, and a
 *     hang-up goes to the child's session, as for a login shell.
 *   TTY_FOREGROUND: the terminal is the helper's controlling terminal but the helper does not
 *     lead its session (started from a shell), or cannot hand it over (gVisor). The child gets a
 *     new process group, in the helper's session, and makes it the terminal's foreground group;
 *     the helper gives the foreground back to its caller when it exits.
 *   TTY_NONE: stdin is no terminal (or another session's): the child just gets a new session.
 */
enum tty_mode { TTY_NONE, TTY_SESSION, TTY_FOREGROUND };
static enum tty_mode tty_mode = TTY_NONE;
static pid_t tty_saved_fg = -1; /* TTY_FOREGROUND: the foreground group to give back */

static void prepare_tty(void) {
  /* tcgetpgrp succeeds only on the caller's controlling terminal. */
  pid_t fg = isatty(0) ? tcgetpgrp(0) : -1;
  if (fg < 0) return;
  if (tcgetsid(0) == getpid()) {
    /* TIOCNOTTY from a session leader sends SIGHUP (and SIGCONT) to the terminal's foreground
     * group, which is ours: ignore it, and drop it if our inherited mask made it pending. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGHUP, &ign, &old);
    int r = ioctl(0, TIOCNOTTY);
    sigset_t pending, hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    struct timespec zero = {0, 0};
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGHUP)) sigtimedwait(&hup, NULL, &zero);
    sigaction(SIGHUP, &old, NULL);
    if (r == 0) {
      tty_mode = TTY_SESSION;
      return;
    }
  }
  /* Not the session leader, or a terminal without TIOCGSID/TIOCNOTTY/TIOCSCTTY (gVisor's host
   * TTY): moving the foreground group (TIOCSPGRP) still routes Ctrl-C to the child. */
  tty_mode = TTY_FOREGROUND;
  tty_saved_fg = fg;
}

/* Sets the terminal's foreground group (SIGTTOU blocked: a background group may then do it). */
static void set_foreground(pid_t pgrp) {
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);
  tcsetpgrp(0, pgrp);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static void restore_tty(void) {
  if (tty_mode == TTY_FOREGROUND && tty_saved_fg > 0) set_foreground(tty_saved_fg);
}

static _Noreturn void finish(void) {
  restore_tty();
  remove_pidfile();
  if (WIFEXITED(child_status)) _exit(WEXITSTATUS(child_status));
  if (WIFSIGNALED(child_status)) _exit(128 + WTERMSIG(child_status));
  _exit(1);
}

/* ---- starting the child ---- */

/* Marks every descriptor above stderr close-on-exec, whatever the helper inherited. */
static void cloexec_above_stderr(void) {
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      int fd = atoi(e->d_name);
      if (fd > 2 && fd != dirfd(d)) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    closedir(d);
    return;
  }
  for (int fd = 3; fd < 65536; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* The command gets a clean signal state: nothing blocked, every disposition the default. The
 * helper's own mask (and whatever its caller left blocked or ignored) must not make the command
 * deaf to the signals Berth sends through frame 2. */
static void reset_signals(void) {
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* EINVAL for KILL/STOP: fine */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child: its own session (or, TTY_FOREGROUND, its own group in the foreground), its stdin
 * (the framed channel's pipe, or with --tty the terminal as inherited), then exec. */
static _Noreturn void exec_child(char **argv, int stdin_fd, int errpipe) {
  if (tty_mode == TTY_FOREGROUND) {
    setpgid(0, 0);
    set_foreground(getpid());
  } else {
    /* A new session is also a new process group (pgid = sid = our pid); the session lets
     * kill_tree find descendants that left the group. */
    if (setsid() < 0) setpgid(0, 0);
    if (tty_mode == TTY_SESSION) ioctl(0, TIOCSCTTY, 0); /* best effort: without it, no job control */
  }
  if (stdin_fd >= 0 && dup2(stdin_fd, 0) < 0) { /* dup2 leaves the new fd 0 without O_CLOEXEC */
    int e = errno;
    ssize_t w = write(errpipe, &e, sizeof e);
    (void)w;
    _exit(127);
  }
  int env_err = run_env.data ? envfile_apply(&run_env) : 0;
  if (env_err) {
    ssize_t w = write(errpipe, &env_err, sizeof env_err);
    (void)w;
    _exit(127);
  }
  cloexec_above_stderr();
  reset_signals();
  execvp(argv[0], argv);
  int e = errno;
  ssize_t w = write(errpipe, &e, sizeof e);
  (void)w;
  _exit(127);
}

/* ---- the control channel ---- */

struct channel {
  /* frame parser */
  unsigned char hdr[5];
  size_t have;
  bool in_payload;
  uint8_t type;
  uint32_t length, left;
  unsigned char sigbyte;
  /* the child's stdin */
  int fd; /* -1 once closed */
  bool close_requested;
  char *pending;
  size_t start, end;
  bool background;
};

static void child_stdin_close(struct channel *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->start = c->end = 0;
}

/* Writes as much pending data as the pipe takes without blocking. */
static void flush_pending(struct channel *c) {
  while (c->fd >= 0 && c->start < c->end) {
    ssize_t w = write(c->fd, c->pending + c->start, c->end - c->start);
    if (w > 0) {
      c->start += (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      break;
    } else {
      child_stdin_close(c); /* EPIPE: the child closed its stdin, data is dropped */
    }
  }
  if (c->start == c->end) c->start = c->end = 0;
  if (c->fd >= 0 && c->start == c->end && c->close_requested) child_stdin_close(c);
}

static void queue_data(struct channel *c, const unsigned char *p, size_t n) {
  if (c->fd < 0 || c->close_requested) return;
  if (c->end + n > PENDING_CAP) { /* compact; room is guaranteed by the read size */
    memmove(c->pending, c->pending + c->start, c->end - c->start);
    c->end -= c->start;
    c->start = 0;
  }
  memcpy(c->pending + c->end, p, n);
  c->end += n;
}

static void send_signal(int sig) {
  if (sig > 0 && sig < NSIG) kill(-child, sig);
}

static void end_frame(struct channel *c) {
  c->in_payload = false;
  switch (c->type) {
  case FRAME_CLOSE:
    c->close_requested = true;
    break;
  case FRAME_SIGNAL:
    if (c->length == 1) send_signal(c->sigbyte);
    break;
  case FRAME_KILL:
    kill_tree();
    break;
  default: /* data was queued as it came; unknown types are ignored */
    break;
  }
}

static void parse_frames(struct channel *c, const unsigned char *p, size_t n) {
  while (n > 0 || (c->in_payload && c->left == 0)) {
    if (!c->in_payload) {
      size_t take = 5 - c->have < n ? 5 - c->have : n;
      memcpy(c->hdr + c->have, p, take);
      c->have += take;
      p += take;
      n -= take;
      if (c->have < 5) return;
      c->have = 0;
      c->type = c->hdr[0];
      c->length = c->left = (uint32_t)c->hdr[1] << 24 | (uint32_t)c->hdr[2] << 16 | (uint32_t)c->hdr[3] << 8 | c->hdr[4];
      c->in_payload = true;
      continue;
    }
    if (c->left == 0) {
      end_frame(c);
      continue;
    }
    size_t take = c->left < n ? c->left : n;
    if (c->type == FRAME_DATA) queue_data(c, p, take);
    if (c->type == FRAME_SIGNAL && c->left == c->length) c->sigbyte = p[0];
    c->left -= (uint32_t)take;
    p += take;
    n -= take;
  }
}

/* Raw end of the control channel: the caller went away. */
static void control_eof(struct channel *c) {
  if (!c->background) {
    kill_tree();
    return;
  }
  c->close_requested = true;
  flush_pending(c);
}

/* ---- signals ---- */

static void handle_signals(int sfd) {
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t n = read(sfd, &si, sizeof si);
    if (n != (ssize_t)sizeof si) return; /* EAGAIN: drained */
    int sig = (int)si.ssi_signo;
    if (sig == SIGCHLD) {
      reap();
    } else if (sig == CTL_SIGNAL && si.ssi_code == SI_QUEUE && si.ssi_int > 0) {
      send_signal(si.ssi_int);
    } else {
      kill_tree(); /* CTL_SIGNAL with 0, SIGUSR1, SIGTERM, SIGINT, SIGHUP */
    }
  }
}

/* ---- run ---- */

/* The control channel loop: frames from stdin, signals, data to the child. */
/*
 * --linger-ms: once the command has exited, keep reading (and discarding) the control channel
 * until it has been quiet for --linger-quiet-ms (default 25), it ends, or the linger time is up. Some engines (Podman 4.3's
 * conmon) reset the attach socket, and drop output not yet forwarded, when input is in flight as
 * the process exits; a caller that sends "close stdin" just as the command ends would lose it.
 */
static int linger_ms;
static int linger_quiet_ms = 25;

static void linger_on_control(void) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  static unsigned char sink[READ_CHUNK];
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    long left = linger_ms - elapsed;
    if (left <= 0) return;
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int r = poll(&p, 1, left < linger_quiet_ms ? (int)left : linger_quiet_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return; /* quiet (or poll failed) */
    ssize_t n = read(0, sink, sizeof sink);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return; /* EOF */
  }
}

static _Noreturn void supervise_channel(int sfd, int child_stdin, bool background) {
  struct channel c = {.fd = child_stdin, .background = background};
  c.pending = malloc(PENDING_CAP);
  if (!c.pending) {
    kill_tree();
    die(ERR_IO_ERROR, "out of memory");
  }
  int fl = fcntl(c.fd, F_GETFL);
  fcntl(c.fd, F_SETFL, fl | O_NONBLOCK);

  static unsigned char buf[READ_CHUNK];
  bool stdin_open = true;    /* control channel not at EOF yet */
  bool stdin_parked = false; /* background: hung up while full, wait for room before reading */
  for (;;) {
    handle_signals(sfd);
    if (have_status) {
      if (stdin_open && linger_ms > 0) linger_on_control();
      finish();
    }
    flush_pending(&c);

    bool room = PENDING_CAP - (c.end - c.start) >= READ_CHUNK;
    if (room) stdin_parked = false;
    struct pollfd pfd[3];
    nfds_t np = 0;
    pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    int in_idx = -1, out_idx = -1;
    if (stdin_open && !stdin_parked) {
      in_idx = (int)np;
      pfd[np++] = (struct pollfd){.fd = 0, .events = (short)((room ? POLLIN : 0) | POLLRDHUP)};
    }
    if (c.fd >= 0 && c.start < c.end) {
      out_idx = (int)np;
      pfd[np++] = (struct pollfd){.fd = c.fd, .events = POLLOUT};
    }
    if (poll(pfd, np, -1) < 0) {
      if (errno == EINTR) continue;
      kill_tree();
      die_errno(errno, "poll failed");
    }
    if (in_idx >= 0 && pfd[in_idx].revents) {
      short re = pfd[in_idx].revents;
      if (room) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r > 0) {
          parse_frames(&c, buf, (size_t)r);
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          stdin_open = false;
          control_eof(&c);
        }
      } else if (re & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) {
        /* Hung up while we are not reading (the child's buffer is full). */
        if (!background) {
          stdin_open = false;
          control_eof(&c);
        } else {
          stdin_parked = true; /* read the rest once the child drains some data */
        }
      }
    }
    if (out_idx >= 0 && (pfd[out_idx].revents & (POLLERR | POLLHUP))) child_stdin_close(&c);
  }
}

/* --tty: the terminal is the child's; only signals (and kill --pidfile) reach the helper. */
static _Noreturn void supervise_signals(int sfd) {
  for (;;) {
    handle_signals(sfd);
    if (have_status) finish();
    struct pollfd p = {.fd = sfd, .events = POLLIN};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) {
      kill_tree();
      restore_tty();
      die_errno(errno, "poll failed");
    }
  }
}

#define RUN_USAGE \
  "usage: run [--background | --tty] [--pidfile <file>] [--env-file <file>] [--linger-ms <0-10000>] " \
  "[--linger-quiet-ms <1-10000>] -- <argv...>"

/* A duration option: decimal milliseconds in [min, 10000]. */
static int millis(const char *s, long min) {
  char *end;
  errno = 0;
  long ms = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || errno || ms < min || ms > 10000) die(ERR_USAGE, RUN_USAGE);
  return (int)ms;
}

int cmd_run(int argc, char **argv) {
  bool background = false, tty = false;
  const char *env_file = NULL;
  int i = 0;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--background") == 0) {
      background = true;
    } else if (strcmp(argv[i], "--tty") == 0) {
      tty = true;
    } else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc) {
      pidfile = argv[++i];
    } else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc) {
      env_file = argv[++i];
    } else if (strcmp(argv[i], "--linger-ms") == 0 && i + 1 < argc) {
      linger_ms = millis(argv[++i], 0);
    } else if (strcmp(argv[i], "--linger-quiet-ms") == 0 && i + 1 < argc) {
      linger_quiet_ms = millis(argv[++i], 1);
    } else if (strcmp(argv[i], "--") == 0) {
      break;
    } else {
      die(ERR_USAGE, RUN_USAGE);
    }
  }
  if (i >= argc - 1 || (tty && background)) die(ERR_USAGE, RUN_USAGE);
  char **cmd = argv + i + 1;
  /* Read and checked here, so a bad file fails with exit 2 before anything starts; a missing one
   * is skipped. */
  if (env_file) envfile_load(env_file, &run_env);

  /* Without subreaper support (gVisor before 2023), orphans go to the container's init; the
   * session scan in kill_descendants still finds those that stayed in the child's session. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 && errno != EINVAL) die_errno(errno, "cannot become a subreaper");

  struct sigaction ign = {.sa_handler = SIG_IGN};
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, NULL);
  if (tty) prepare_tty(); /* before SIGHUP is blocked below: TIOCNOTTY may raise one */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, CTL_SIGNAL);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die_errno(errno, "signalfd failed");

  int inpipe[2] = {-1, -1}, errpipe[2];
  if ((!tty && pipe2(inpipe, O_CLOEXEC) < 0) || pipe2(errpipe, O_CLOEXEC) < 0) die_errno(errno, "pipe failed");
  child = fork();
  if (child < 0) die_errno(errno, "fork failed");
  if (child == 0) exec_child(cmd, inpipe[0], errpipe[1]);
  /* No signal reaches the group before the exec is confirmed below, by which time the child
   * has made its own session and group. */
  xclose(inpipe[0]);
  close(errpipe[1]);
  envfile_free(&run_env); /* the child has its copy */

  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(errpipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == (ssize_t)sizeof exec_errno) { /* exec failed; the pipe closes on success */
    waitpid(child, NULL, 0);
    restore_tty();
    exit_exec_failed(cmd[0], exec_errno);
  }
  if (pidfile) write_pidfile();
  if (tty) supervise_signals(sfd);
  supervise_channel(sfd, inpipe[1], background);
}

/* ---- kill --pidfile ---- */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Reads a small /proc file into buf; returns its length or -1. */
static ssize_t read_proc(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n >= 0) buf[n] = '\0';
  return n;
}

/* Whether pid is a `berth-helper run` process: argv[1] is "run", and it runs the same executable
 * as ours (or, for a helper started before the binary was replaced, has the same name). */
static bool is_run_helper(pid_t pid) {
  char path[64], buf[256], comm[64], self_comm[64];
  if (access("/proc/self/stat", F_OK) < 0) return true; /* no /proc: cannot check, trust the pidfile */
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  ssize_t n = read_proc(path, buf, sizeof buf);
  if (n <= 0) return false;
  size_t first = strlen(buf);
  if ((ssize_t)first + 4 > n || strcmp(buf + first + 1, "run") != 0) return false;
  struct stat self, other;
  snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
  if (stat("/proc/self/exe", &self) == 0 && stat(path, &other) == 0 && self.st_dev == other.st_dev &&
      self.st_ino == other.st_ino)
    return true;
  snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
  return read_proc(path, comm, sizeof comm) > 0 && read_proc("/proc/self/comm", self_comm, sizeof self_comm) > 0 &&
         strcmp(comm, self_comm) == 0;
}

int cmd_kill(int argc, char **argv) {
  const char *file = NULL;
  int sig = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc) {
      file = argv[++i];
    } else if (strcmp(argv[i], "--signal") == 0 && i + 1 < argc) {
      uint64_t v = parse_u64(argv[++i], "signal");
      if (v < 1 || v >= (uint64_t)NSIG) die(ERR_USAGE, "signal must be between 1 and %d", NSIG - 1);
      sig = (int)v;
    } else {
      die(ERR_USAGE, "usage: kill --pidfile <file> [--signal <n>]");
    }
  }
  if (!file) die(ERR_USAGE, "usage: kill --pidfile <file> [--signal <n>]");

  int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) die(ERR_NOT_FOUND, "no helper runs for pidfile \"%.200s\"", file);
    die_errno(errno, "cannot read pidfile \"%.200s\"", file);
  }
  char buf[32];
  size_t n = read_full(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n] = '\0';
  char *end;
  long pid = strtol(buf, &end, 10);
  if (end == buf || (*end && strcmp(end, "\n") != 0) || pid <= 1 || pid > 1L << 30)
    die(ERR_NOT_FOUND, "pidfile \"%.200s\" holds no pid", file);

  /* Take a pidfd first, then check what it is: signals through the pidfd cannot reach another
   * process that recycled the pid after the check. */
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0 && errno == ESRCH) die(ERR_NOT_FOUND, "no helper runs as pid %ld", pid);
  if (!is_run_helper((pid_t)pid)) die(ERR_NOT_FOUND, "process %ld is not a berth-helper run", pid);

  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = CTL_SIGNAL;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = sig;
  int r = -1;
  if (pidfd >= 0) r = (int)syscall(SYS_pidfd_send_signal, pidfd, CTL_SIGNAL, &info, 0);
  if (pidfd < 0 || (r < 0 && errno == ENOSYS)) r = sigqueue((pid_t)pid, CTL_SIGNAL, info.si_value);
  if (r < 0) {
    if (errno == ESRCH) die(ERR_NOT_FOUND, "no helper runs as pid %ld", pid);
    die_errno(errno, "cannot signal pid %ld", pid);
  }
  return 0;
}

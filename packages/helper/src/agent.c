/*
 * `agent`: the reference agent of Berth's agent contract (../CONTRACT.md, "the reference agent").
 *
 * Registers with Berth over HTTP/1.1 on a Unix socket, then heartbeats at an interval, forever.
 * Optionally supervises a command (`-- argv...`) and exits with its status. Everything that
 * blocks goes through wait_for(), which polls the awaited descriptor together with a signalfd
 * (SIGTERM, SIGINT, SIGCHLD) and the --exit-after-ms deadline, so signals, the command's exit
 * and the exit timer are handled promptly even in the middle of a request.
 *
 * No heap: requests and responses use static buffers, and every request opens and closes its
 * own socket, so an agent running for months holds the same memory and descriptors throughout.
 * The token is never written anywhere but the Authorization header: no message quotes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define DEFAULT_SOCKET "/run/berth/agent.sock"
#define DEFAULT_TOKEN_FILE "/configs/.berth-agent-token"
#define DEFAULT_INTERVAL_MS 10000
#define MAX_INTERVAL_MS 86400000 /* one day */
#define TOKEN_MAX 512            /* bytes, after trailing whitespace is stripped */
#define TEXT_MAX 1024            /* --task and --error, bytes */
#define REQUEST_TIMEOUT_MS 5000
#define BODY_MAX (64 + 2 * 6 * TEXT_MAX) /* heartbeat body: each text byte escapes to 6 at most */
#define RESPONSE_MAX 8192 /* bytes of a response read; the rest is ignored */
#define BACKOFF_START_MS 200
#define BACKOFF_MAX_MS 5000
#define REPEAT_LOG_MS 60000 /* an unchanged failure is logged again after this long */

static struct {
  const char *socket_path, *token_file, *task, *error;
  int64_t interval_ms;
  bool interval_fixed; /* --interval-ms given: the server's value is ignored */
  int64_t heartbeats;  /* -1: no limit */
  int64_t exit_at;     /* monotonic ms, -1: never */
  int exit_code;
  bool no_register;
  char **argv; /* the command to supervise, NULL for none */
} opt;

static int sigfd = -1;
static pid_t child = -1;
static int64_t heartbeats_sent;

/* ---- logging: one line per state change, with one write(2) each ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog_line("berth-agent: ", fmt, ap);
  va_end(ap);
}

/* Failures are logged when they change; the same failure again only once a minute. */
static char last_failure[400];
static int64_t last_failure_at;

static bool failure_is_news(const char *what) {
  int64_t now = now_ms();
  if (strcmp(what, last_failure) == 0 && now - last_failure_at < REPEAT_LOG_MS) return false;
  snprintf(last_failure, sizeof last_failure, "%s", what);
  last_failure_at = now;
  return true;
}

static void forget_failures(void) { last_failure[0] = '\0'; }

/* ---- signals, the supervised command and the exit timer ---- */

/* Never runs (the signals are blocked and read from sigfd), but a handler must be installed:
 * as a container's PID 1 the process would otherwise not receive signals left at SIG_DFL. */
static void on_signal(int sig) { (void)sig; }

static void setup_signals(void) {
  struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_flags |= SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  struct sigaction ign = {.sa_handler = SIG_IGN};
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) die_errno(errno, "signalfd failed");
}

static _Noreturn void exit_like(int status) {
  if (WIFEXITED(status)) {
    say("the command exited with code %d", WEXITSTATUS(status));
    _exit(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    say("the command was killed by signal %d", WTERMSIG(status));
    _exit(128 + WTERMSIG(status));
  }
  _exit(1);
}

/* Reaps every exited child (as PID 1 we also inherit orphans); exits when the command ended. */
static void reap(void) {
  for (;;) {
    int st;
    pid_t r = waitpid(-1, &st, WNOHANG);
    if (r > 0) {
      if (r == child) exit_like(st);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    return;
  }
}

static void handle_signals(void) {
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t r = read(sigfd, &si, sizeof si);
    if (r < 0 && errno == EINTR) continue;
    if (r != (ssize_t)sizeof si) break;
    int sig = (int)si.ssi_signo;
    if (sig != SIGTERM && sig != SIGINT) continue; /* SIGCHLD: reaped below */
    const char *name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    if (child < 0) {
      say("received %s; exiting", name);
      _exit(0);
    }
    say("received %s; forwarding it to the command (pid %d)", name, (int)child);
    kill(child, sig);
  }
  reap();
}

static _Noreturn void exit_after(void) {
  say("exiting with code %d (--exit-after-ms)", opt.exit_code);
  if (child > 0) {
    kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  _exit(opt.exit_code);
}

/*
 * Waits until fd (when >= 0) reports `events` or an error, or until `deadline` (monotonic ms;
 * -1: never) has passed, meanwhile handling signals and the exit timer. Returns whether fd is
 * ready. With fd < 0 it is a sleep.
 */
static bool wait_for(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t now = now_ms();
    if (opt.exit_at >= 0 && now >= opt.exit_at) exit_after();
    int64_t until = deadline;
    if (opt.exit_at >= 0 && (until < 0 || opt.exit_at < until)) until = opt.exit_at;
    int timeout = -1;
    if (until >= 0) timeout = until <= now ? 0 : until - now > INT_MAX ? INT_MAX : (int)(until - now);
    struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = fd, .events = events}};
    int n = poll(p, fd >= 0 ? 2 : 1, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno(errno, "poll failed");
    }
    if (p[0].revents) handle_signals();
    if (fd >= 0 && p[1].revents) return true;
    if (deadline >= 0 && now_ms() >= deadline) return false;
  }
}

static _Noreturn void sleep_forever(void) {
  for (;;) wait_for(-1, 0, -1);
}

static void start_child(void) {
  pid_t pid = fork();
  if (pid < 0) die_errno(errno, "fork failed");
  if (pid == 0) {
    /* The command gets a clean signal state: every disposition the default, nothing blocked. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* EINVAL for some: fine */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvp(opt.argv[0], opt.argv);
    int err = errno;
    say("cannot run \"%.200s\": %s", opt.argv[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  child = pid;
  say("started \"%.200s\" (pid %d)", opt.argv[0], (int)pid);
}

/* ---- the token ---- */

static char token[TOKEN_MAX + 1];
static size_t token_len; /* 0 until read successfully */

/* Reads the token file unless the token is known; on failure writes why into `why`. */
static bool load_token(char *why, size_t whylen) {
  if (token_len) return true;
  int fd = open(opt.token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    snprintf(why, whylen, "token file %.200s: %s", opt.token_file, strerror(errno));
    return false;
  }
  char buf[2 * TOKEN_MAX + 1]; /* room for trailing whitespace; filling it means too large */
  size_t got = 0;
  int err = 0;
  while (got < sizeof buf) {
    ssize_t r = read(fd, buf + got, sizeof buf - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) err = errno;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  bool ok = false;
  size_t len = got;
  while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\n' ||
                     buf[len - 1] == '\r' || buf[len - 1] == '\v' || buf[len - 1] == '\f'))
    len--;
  bool control = false;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) control = true;
  if (err) {
    snprintf(why, whylen, "token file %.200s: %s", opt.token_file, strerror(err));
  } else if (got == sizeof buf || len > TOKEN_MAX) {
    snprintf(why, whylen, "token file %.200s is larger than %d bytes", opt.token_file, TOKEN_MAX);
  } else if (len == 0) {
    snprintf(why, whylen, "token file %.200s is empty", opt.token_file);
  } else if (control) { /* would break the header; also refused so it is never echoed */
    snprintf(why, whylen, "token file %.200s holds control characters", opt.token_file);
  } else {
    memcpy(token, buf, len);
    token_len = len;
    ok = true;
  }
  explicit_bzero(buf, sizeof buf);
  return ok;
}

static void forget_token(void) {
  explicit_bzero(token, sizeof token);
  token_len = 0;
}

/* ---- one HTTP request ---- */

struct reply {
  int status;         /* HTTP status, 0 when the exchange failed (see reason) */
  int64_t interval_ms; /* heartbeatIntervalMs from the body, -1 when absent */
  char workspace[65]; /* workspaceId from the body, "" when absent */
  char reason[320];   /* why the exchange failed */
};

/* Whether the headers are complete and Content-Length bytes of body have arrived (without a
 * Content-Length the response ends when the server closes the connection). */
static bool response_complete(const char *p, size_t n) {
  const char *end = memmem(p, n, "\r\n\r\n", 4);
  if (!end) return false;
  size_t head = (size_t)(end - p) + 4;
  for (const char *line = memchr(p, '\n', head); line && line < end; line = memchr(line, '\n', (size_t)(end - line))) {
    line++;
    if ((size_t)(end - line) > 15 && strncasecmp(line, "content-length:", 15) == 0) {
      const char *q = line + 15;
      while (q < end && (*q == ' ' || *q == '\t')) q++;
      size_t cl = 0;
      while (q < end && *q >= '0' && *q <= '9' && cl < RESPONSE_MAX * 2) cl = cl * 10 + (size_t)(*q++ - '0');
      return n >= head + cl;
    }
  }
  return false;
}

/* Finds `"key"` then `:` in the body; returns the position after the colon and spaces. */
static const char *json_key(const char *body, size_t n, const char *key) {
  char quoted[40];
  int qlen = snprintf(quoted, sizeof quoted, "\"%s\"", key);
  const char *end = body + n;
  const char *k = memmem(body, n, quoted, (size_t)qlen);
  if (!k) return NULL;
  const char *q = k + qlen;
  while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
  if (q == end || *q != ':') return NULL;
  q++;
  while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
  return q;
}

/* Parses the status line, and from the body (a tiny scan, no JSON parser) heartbeatIntervalMs
 * when it is a positive integer and workspaceId when it is a short plain string. */
static void parse_response(const char *p, size_t n, struct reply *r) {
  if (n == 0) {
    snprintf(r->reason, sizeof r->reason, "the server closed the connection without a response");
    return;
  }
  if (n < 13 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' ||
      p[10] > '9' || p[11] < '0' || p[11] > '9' || (p[12] != ' ' && p[12] != '\r')) {
    snprintf(r->reason, sizeof r->reason, "malformed response");
    return;
  }
  r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  const char *body = memmem(p, n, "\r\n\r\n", 4);
  if (!body) return;
  body += 4;
  size_t blen = n - (size_t)(body - p);
  const char *end = body + blen;
  const char *q = json_key(body, blen, "heartbeatIntervalMs");
  if (q) {
    int64_t v = 0;
    int digits = 0;
    for (; q < end && *q >= '0' && *q <= '9' && digits < 12; q++, digits++) v = v * 10 + (*q - '0');
    bool whole = q == end || (*q != '.' && *q != 'e' && *q != 'E' && (*q < '0' || *q > '9'));
    if (digits > 0 && whole && v >= 1 && v <= MAX_INTERVAL_MS) r->interval_ms = v;
  }
  q = json_key(body, blen, "workspaceId");
  if (q && q < end && *q == '"') {
    q++;
    size_t len = 0;
    while (q + len < end && len < sizeof r->workspace - 1 &&
           ((q[len] >= 'a' && q[len] <= 'z') || (q[len] >= 'A' && q[len] <= 'Z') ||
            (q[len] >= '0' && q[len] <= '9') || q[len] == '_' || q[len] == '-' || q[len] == '.'))
      len++;
    if (len > 0 && q + len < end && q[len] == '"') {
      memcpy(r->workspace, q, len);
      r->workspace[len] = '\0';
    }
  }
}

/* Connects, sends the request and reads the response, all before `deadline`. */
static void exchange(int fd, int64_t deadline, const char *req, size_t len, struct reply *r) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, opt.socket_path, strlen(opt.socket_path) + 1); /* length checked */
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    if (err == EINPROGRESS || err == EINTR) {
      if (!wait_for(fd, POLLOUT, deadline)) {
        snprintf(r->reason, sizeof r->reason, "connect: timed out after %d ms", REQUEST_TIMEOUT_MS);
        return;
      }
      socklen_t sl = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0) err = errno;
    }
    if (err) {
      snprintf(r->reason, sizeof r->reason, "connect: %s", strerror(err));
      return;
    }
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
    if (w > 0) {
      off += (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      if (!wait_for(fd, POLLOUT, deadline)) {
        snprintf(r->reason, sizeof r->reason, "send: timed out after %d ms", REQUEST_TIMEOUT_MS);
        return;
      }
    } else {
      snprintf(r->reason, sizeof r->reason, "send: %s", strerror(errno));
      return;
    }
  }
  static char resp[RESPONSE_MAX + 1];
  size_t got = 0;
  while (got < RESPONSE_MAX && !response_complete(resp, got)) {
    ssize_t n = recv(fd, resp + got, RESPONSE_MAX - got, 0);
    if (n > 0) {
      got += (size_t)n;
    } else if (n == 0) {
      break;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      if (!wait_for(fd, POLLIN, deadline)) {
        snprintf(r->reason, sizeof r->reason, "no response within %d ms", REQUEST_TIMEOUT_MS);
        return;
      }
    } else if (got > 0) {
      break; /* reset after (part of) a response: use what arrived */
    } else {
      snprintf(r->reason, sizeof r->reason, "recv: %s", strerror(errno));
      return;
    }
  }
  resp[got] = '\0';
  parse_response(resp, got, r);
}

/* A request: the headers, the token and a body. */
static char request[1024 + TOKEN_MAX + BODY_MAX];

static void post(const char *path, const char *body, size_t body_len, struct reply *r) {
  memset(r, 0, sizeof *r);
  r->interval_ms = -1;
  if (!load_token(r->reason, sizeof r->reason)) return;
  struct sink s = {.fd = -1, .data = request, .len = 0, .cap = sizeof request};
  sink_str(&s, "POST ");
  sink_str(&s, path);
  sink_str(&s, " HTTP/1.1\r\nHost: berth\r\nUser-Agent: berth-helper/" HELPER_VERSION
               "\r\nAuthorization: Bearer ");
  sink_put(&s, token, token_len);
  sink_str(&s, "\r\nContent-Type: application/json\r\nContent-Length: ");
  sink_i64(&s, (int64_t)body_len);
  sink_str(&s, "\r\nConnection: close\r\n\r\n");
  sink_put(&s, body, body_len);
  if (s.len == s.cap) { /* cannot happen: the sizes are bounded */
    snprintf(r->reason, sizeof r->reason, "request too large");
  } else {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      snprintf(r->reason, sizeof r->reason, "socket: %s", strerror(errno));
    } else {
      exchange(fd, now_ms() + REQUEST_TIMEOUT_MS, request, s.len, r);
      close(fd);
    }
  }
  explicit_bzero(request, s.len);
}

static bool succeeded(const struct reply *r) { return r->status >= 200 && r->status < 300; }

/* "HTTP 500" or the reason the exchange failed. */
static const char *failure_text(const struct reply *r, char *buf, size_t n) {
  if (r->status == 0) return r->reason;
  snprintf(buf, n, "HTTP %d", r->status);
  return buf;
}

/* ---- the protocol ---- */

static char register_body[128];
static size_t register_len;
static char heartbeat_body[BODY_MAX];
static size_t heartbeat_len;

static void build_bodies(void) {
  int n = snprintf(register_body, sizeof register_body,
                   "{\"agent\":\"berth-helper\",\"version\":\"" HELPER_VERSION "\",\"pid\":%d}", (int)getpid());
  register_len = (size_t)n;
  struct sink s = {.fd = -1, .data = heartbeat_body, .len = 0, .cap = sizeof heartbeat_body};
  sink_str(&s, opt.error ? "{\"status\":\"error\",\"task\":" : "{\"status\":\"ok\",\"task\":");
  if (opt.task) {
    json_string(&s, opt.task, strlen(opt.task));
  } else {
    sink_str(&s, "null");
  }
  sink_str(&s, ",\"error\":");
  if (opt.error) {
    json_string(&s, opt.error, strlen(opt.error));
  } else {
    sink_str(&s, "null");
  }
  sink_str(&s, "}");
  heartbeat_len = s.len;
}

static void adopt_interval(const struct reply *r, bool announce) {
  if (opt.interval_fixed || r->interval_ms < 1 || r->interval_ms == opt.interval_ms) return;
  opt.interval_ms = r->interval_ms;
  if (announce) say("heartbeat interval is now %lld ms", (long long)opt.interval_ms);
}

/* Registers, retrying with backoff until it succeeds. */
static void register_until_done(void) {
  int64_t backoff = BACKOFF_START_MS;
  for (;;) {
    struct reply r;
    post("/v1/agent/register", register_body, register_len, &r);
    if (succeeded(&r)) {
      adopt_interval(&r, false);
      forget_failures();
      if (r.workspace[0]) {
        say("registered as %s (heartbeat every %lld ms)", r.workspace, (long long)opt.interval_ms);
      } else {
        say("registered (heartbeat every %lld ms)", (long long)opt.interval_ms);
      }
      return;
    }
    if (r.status == 401) forget_token(); /* the file may hold a new one by now */
    int64_t cap = opt.interval_ms < BACKOFF_MAX_MS ? opt.interval_ms : BACKOFF_MAX_MS;
    int64_t delay = backoff < cap ? backoff : cap;
    char buf[32], what[400];
    snprintf(what, sizeof what, "register failed: %s; retrying in %lld ms", failure_text(&r, buf, sizeof buf),
             (long long)delay);
    if (failure_is_news(what)) say("%s", what); /* each step of the backoff, then once a minute */
    wait_for(-1, 0, now_ms() + delay);
    if (backoff < BACKOFF_MAX_MS) backoff *= 2;
  }
}

/* Heartbeats at the interval; returns when the server no longer knows the agent (401, 404). */
static void heartbeat_until_rejected(void) {
  int64_t next = now_ms(); /* the first heartbeat right after registering */
  bool first = true;
  int64_t failures = 0;
  for (;;) {
    if (opt.heartbeats >= 0 && heartbeats_sent >= opt.heartbeats) {
      say("sent %lld heartbeats; no longer heartbeating (--heartbeats)", (long long)heartbeats_sent);
      sleep_forever();
    }
    wait_for(-1, 0, next);
    int64_t start = now_ms();
    heartbeats_sent++;
    struct reply r;
    post("/v1/agent/heartbeat", heartbeat_body, heartbeat_len, &r);
    if (succeeded(&r)) {
      adopt_interval(&r, true);
      if (first) say("heartbeat ok");
      if (!first && failures) say("heartbeat ok again after %lld failed", (long long)failures);
      forget_failures();
      first = false;
      failures = 0;
    } else {
      failures++;
      char buf[32], what[400];
      if (r.status == 401 || r.status == 404) {
        say("heartbeat rejected (HTTP %d); registering again", r.status);
        if (r.status == 401) forget_token();
        forget_failures();
        return;
      }
      snprintf(what, sizeof what, "heartbeat failed: %s", failure_text(&r, buf, sizeof buf));
      if (failure_is_news(what)) say("%s", what);
    }
    next = start + opt.interval_ms;
  }
}

/* ---- options ---- */

static const char *option_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) die(ERR_USAGE, "%.50s needs a value", argv[*i]);
  return argv[++*i];
}

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

static void parse_options(int argc, char **argv) {
  opt.socket_path = env_or("BERTH_AGENT_SOCKET", DEFAULT_SOCKET);
  opt.token_file = env_or("BERTH_AGENT_TOKEN_FILE", DEFAULT_TOKEN_FILE);
  opt.interval_ms = DEFAULT_INTERVAL_MS;
  opt.heartbeats = -1;
  opt.exit_at = -1;
  opt.exit_code = 1;
  int64_t exit_after_ms = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      if (i + 1 >= argc) die(ERR_USAGE, "-- must be followed by a command");
      opt.argv = argv + i + 1;
      break;
    }
    if (strcmp(a, "--socket") == 0) {
      opt.socket_path = option_value(argc, argv, &i);
    } else if (strcmp(a, "--token-file") == 0) {
      opt.token_file = option_value(argc, argv, &i);
    } else if (strcmp(a, "--interval-ms") == 0) {
      uint64_t v = parse_u64(option_value(argc, argv, &i), "--interval-ms");
      if (v < 1 || v > MAX_INTERVAL_MS) die(ERR_USAGE, "--interval-ms must be 1 to %d", MAX_INTERVAL_MS);
      opt.interval_ms = (int64_t)v;
      opt.interval_fixed = true;
    } else if (strcmp(a, "--task") == 0) {
      opt.task = option_value(argc, argv, &i);
    } else if (strcmp(a, "--error") == 0) {
      opt.error = option_value(argc, argv, &i);
    } else if (strcmp(a, "--heartbeats") == 0) {
      uint64_t v = parse_u64(option_value(argc, argv, &i), "--heartbeats");
      opt.heartbeats = v > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)v;
    } else if (strcmp(a, "--exit-after-ms") == 0) {
      uint64_t v = parse_u64(option_value(argc, argv, &i), "--exit-after-ms");
      if (v > (uint64_t)INT32_MAX * 1000) die(ERR_USAGE, "--exit-after-ms is too large");
      exit_after_ms = (int64_t)v;
    } else if (strcmp(a, "--exit-code") == 0) {
      uint64_t v = parse_u64(option_value(argc, argv, &i), "--exit-code");
      if (v > 255) die(ERR_USAGE, "--exit-code must be 0 to 255");
      opt.exit_code = (int)v;
    } else if (strcmp(a, "--no-register") == 0) {
      opt.no_register = true;
    } else {
      die(ERR_USAGE, "unknown agent option \"%.50s\"", a);
    }
  }
  if (strlen(opt.socket_path) >= sizeof((struct sockaddr_un *)0)->sun_path)
    die(ERR_USAGE, "the socket path is longer than %zu bytes",
        sizeof((struct sockaddr_un *)0)->sun_path - 1);
  if (opt.task && strlen(opt.task) > TEXT_MAX) die(ERR_USAGE, "--task is longer than %d bytes", TEXT_MAX);
  if (opt.error && strlen(opt.error) > TEXT_MAX) die(ERR_USAGE, "--error is longer than %d bytes", TEXT_MAX);
  if (exit_after_ms >= 0) opt.exit_at = now_ms() + exit_after_ms;
}

int cmd_agent(int argc, char **argv) {
  parse_options(argc, argv);
  setup_signals();
  if (opt.argv) start_child();
  if (opt.no_register) {
    say("not registering (--no-register)");
    sleep_forever();
  }
  build_bodies();
  for (;;) {
    register_until_done();
    heartbeat_until_rejected();
  }
}

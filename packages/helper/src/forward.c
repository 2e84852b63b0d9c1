/*
 * The egress forwarder (`boot --egress-listen`; ../CONTRACT.md, "workspace boot").
 *
 * A workspace whose egress is `none` or `allowlist` has no network but loopback. Its only way out
 * is Berth's egress gateway, an HTTP proxy reached through a Unix socket bind-mounted into the
 * container. HTTP clients only speak to TCP proxies, so this process relays every connection
 * accepted on a loopback TCP port to a new connection to that socket, which it opens with the line
 * `BERTH-EGRESS <token>\n` (the token, first line of the token file, is read for each connection,
 * so a rotated token applies to the next one).
 *
 * One thread, one epoll set, level-triggered, every socket non-blocking; no process per
 * connection (a workspace has a pids limit). Per connection and direction one buffer of BUF_CAP
 * bytes: a side is read only while the buffer of its direction has room, so a slow reader slows
 * its writer down through TCP's own flow control (backpressure) and memory stays bounded: at most
 * MAX_CONNS * 2 * BUF_CAP, and only for connections with data in flight, since a buffer goes back
 * to a small pool as soon as it is drained. A side is in the epoll set only while we wait for it
 * (interest 0 means not registered), so a hung-up socket we do not read yet cannot make
 * epoll_wait spin.
 *
 * Half-close: when a side reaches end of file and its buffer has been written out, the other side
 * gets shutdown(SHUT_WR); the pair is closed when both directions are done, or at once on an error
 * of either side (the client then gets a reset, not a clean end). If the gateway cannot be reached (no socket, nobody listening, connect timing
 * out), the client is closed at once: there is no other route, so failing closed is all we can do.
 *
 * The forwarder never exits because of a client: SIGPIPE is ignored (and sends use MSG_NOSIGNAL),
 * EINTR and EAGAIN are retried or waited for, any other error ends that connection only. It exits
 * only when the listener or epoll fail for good. Log lines (`berth-egress: ...`, stderr, one
 * write each) are written when a state changes (gateway unreachable / reachable again, token
 * unreadable, connection cap reached), never once per connection, and never quote the token.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define MAX_CONNS 1024          /* concurrent connections; more are accepted and closed at once */
#define BUF_CAP 65536           /* bytes buffered per connection and direction */
#define POOL_MAX 32             /* drained buffers kept for reuse */
#define TOKEN_MAX 512           /* bytes of the token (its first line, trailing whitespace removed) */
#define CONNECT_TIMEOUT_MS 5000 /* to reach the gateway, from the accept */
#define RETRY_MS 10             /* gateway backlog full (EAGAIN): try the connect again after this */
#define ACCEPT_PAUSE_MS 100     /* out of descriptors or memory: stop accepting for this long */
#define ACCEPT_BATCH 64         /* connections accepted per wake-up, so open ones are served too */
#define MAX_EVENTS 256

#define LISTENER_TAG UINT64_MAX

enum { TCP = 0, GW = 1 }; /* the two sides of a connection: the client, the gateway */
enum cstate { C_RETRY, C_CONNECTING, C_OPEN };

struct side {
  int fd;
  bool eof;       /* read returned 0 */
  bool shut;      /* shutdown(SHUT_WR) done */
  uint32_t armed; /* events registered with epoll; 0: not in the set */
};

struct buf {
  char *p; /* NULL while empty (back in the pool) */
  size_t start, end;
};

struct conn {
  struct side s[2];
  struct buf b[2]; /* b[i]: read from s[i], to be written to s[1 - i] */
  enum cstate state;
  bool dead;           /* an error: close the pair */
  int64_t deadline;    /* C_RETRY, C_CONNECTING: give up on the gateway then */
  int64_t retry_at;    /* C_RETRY: next connect attempt */
  unsigned slot;
};

static struct conn *conns[MAX_CONNS];
static unsigned nconns, npending; /* open pairs; of those, still connecting to the gateway */
static unsigned next_slot;
static int epfd = -1, lfd = -1;
static bool listener_armed;
static int64_t resume_accept_at;
static struct sockaddr_un gw_addr;
static const char *gw_path, *token_path;
static char *pool[POOL_MAX];
static unsigned npool;

/* ---- logging: one line per state change ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog_line("berth-egress: ", fmt, ap);
  va_end(ap);
}

/* A condition that is logged when it starts or changes, and when it ends. */
struct notice {
  bool failing;
  char last[300];
};

static struct notice gw_notice, token_notice, cap_notice;

static void notice_fail(struct notice *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice_fail(struct notice *n, const char *fmt, ...) {
  char msg[sizeof n->last];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n->failing && strcmp(msg, n->last) == 0) return;
  n->failing = true;
  memcpy(n->last, msg, sizeof msg);
  say("%s", msg);
}

static void notice_ok(struct notice *n, const char *msg) {
  if (!n->failing) return;
  n->failing = false;
  n->last[0] = '\0';
  say("%s", msg);
}

/* ---- buffers ---- */

static size_t buf_len(const struct buf *b) { return b->end - b->start; }

static void buf_release(struct buf *b) {
  if (b->p) {
    if (npool < POOL_MAX) pool[npool++] = b->p;
    else free(b->p);
  }
  b->p = NULL;
  b->start = b->end = 0;
}

/* Makes room at the end of b; returns false when it is full or memory is out. */
static bool buf_room(struct buf *b) {
  if (!b->p) {
    b->p = npool ? pool[--npool] : malloc(BUF_CAP);
    if (!b->p) return false;
    b->start = b->end = 0;
  }
  if (b->end == BUF_CAP && b->start > 0) {
    memmove(b->p, b->p + b->start, buf_len(b));
    b->end -= b->start;
    b->start = 0;
  }
  return b->end < BUF_CAP;
}

/* ---- the token ---- */

/* Reads the first line of the token file into tok (TOKEN_MAX + 1 bytes); returns its length, or
 * 0 when it cannot be used (logged, without the content). */
static size_t read_token(char *tok) {
  int fd = open(token_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    notice_fail(&token_notice, "token file %.200s: %s; connections are closed", token_path, strerror(errno));
    return 0;
  }
  char buf[2 * TOKEN_MAX + 2]; /* room for trailing whitespace and the newline */
  size_t got = 0;
  int err = 0;
  while (got < sizeof buf) {
    ssize_t r = read(fd, buf + got, sizeof buf - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) err = errno;
    if (r <= 0) break;
    got += (size_t)r;
    if (memchr(buf, '\n', got)) break;
  }
  close(fd);
  const char *nl = memchr(buf, '\n', got);
  size_t len = nl ? (size_t)(nl - buf) : got;
  while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\r' ||
                     buf[len - 1] == '\v' || buf[len - 1] == '\f'))
    len--;
  bool control = false;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) control = true;
  const char *why = NULL;
  if (err) why = strerror(err);
  else if ((!nl && got == sizeof buf) || len > TOKEN_MAX) why = "the token is longer than 512 bytes";
  else if (len == 0) why = "empty";
  else if (control) why = "the token holds control characters";
  if (why) {
    explicit_bzero(buf, sizeof buf);
    notice_fail(&token_notice, "token file %.200s: %s; connections are closed", token_path, why);
    return 0;
  }
  memcpy(tok, buf, len);
  explicit_bzero(buf, sizeof buf);
  notice_ok(&token_notice, "token file readable again");
  return len;
}

/* ---- connections ---- */

static void conn_close(struct conn *c) {
  if (c->state != C_OPEN) npending--;
  if (c->dead) {
    /* An error (a side reset, the gateway unreachable): reset the client rather than end it
     * cleanly, so a truncated response cannot pass for a complete one. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->s[TCP].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  for (int i = 0; i < 2; i++) {
    if (c->s[i].fd >= 0) close(c->s[i].fd); /* also leaves the epoll set */
    buf_release(&c->b[i]);
  }
  conns[c->slot] = NULL;
  nconns--;
  free(c);
}

/* Registers the events side i waits for (none: out of the set). */
static bool arm(struct conn *c, int i, uint32_t want) {
  struct side *s = &c->s[i];
  if (s->fd < 0 || want == s->armed) return true;
  struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)c->slot * 2 + (uint64_t)i};
  int op = s->armed == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(epfd, op, s->fd, &ev) < 0) return false;
  s->armed = want;
  return true;
}

static void gateway_failed(struct conn *c, int err) {
  notice_fail(&gw_notice, "cannot reach the egress gateway at %.200s: %s; connections are closed", gw_path,
              strerror(err));
  c->dead = true;
}

static void gateway_connected(struct conn *c) {
  c->state = C_OPEN;
  npending--;
  notice_ok(&gw_notice, "the egress gateway is reachable again");
}

/* Reads what side i has into b[i], while there is room. */
static void do_read(struct conn *c, int i) {
  struct side *s = &c->s[i];
  struct buf *b = &c->b[i];
  if (c->dead || s->eof || (i == GW && c->state != C_OPEN)) return;
  if (!buf_room(b)) {
    if (!b->p) c->dead = true; /* out of memory */
    return;
  }
  for (;;) {
    ssize_t n = recv(s->fd, b->p + b->end, BUF_CAP - b->end, 0);
    if (n > 0) {
      b->end += (size_t)n;
    } else if (n == 0) {
      s->eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      c->dead = true;
    }
    break;
  }
  if (buf_len(b) == 0) buf_release(b);
}

/* Writes b[1 - i] to side i; once it is drained and the other side has ended, half-closes i. */
static void do_write(struct conn *c, int i) {
  struct side *s = &c->s[i];
  struct buf *b = &c->b[1 - i];
  if (c->dead || s->shut || (i == GW && c->state != C_OPEN)) return;
  while (buf_len(b) > 0) {
    ssize_t n = send(s->fd, b->p + b->start, buf_len(b), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      b->start += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      c->dead = true;
      return;
    }
  }
  buf_release(b);
  if (c->s[1 - i].eof) {
    shutdown(s->fd, SHUT_WR); /* ENOTCONN (the peer is gone): the next read or write says so */
    s->shut = true;
  }
}

/* After any work on c: closes it when done or broken, else registers what each side waits for. */
static void settle(struct conn *c) {
  bool done = c->s[TCP].shut && c->s[GW].shut; /* both ended, both buffers written out */
  if (!c->dead && !done) {
    uint32_t tcp = 0, gw = 0;
    if (!c->s[TCP].eof && buf_len(&c->b[TCP]) < BUF_CAP) tcp |= EPOLLIN;
    if (buf_len(&c->b[GW]) > 0) tcp |= EPOLLOUT;
    if (c->state == C_CONNECTING) {
      gw = EPOLLOUT;
    } else if (c->state == C_OPEN) {
      if (!c->s[GW].eof && buf_len(&c->b[GW]) < BUF_CAP) gw |= EPOLLIN;
      if (buf_len(&c->b[TCP]) > 0) gw |= EPOLLOUT;
    }
    if (arm(c, TCP, tcp) && arm(c, GW, gw)) return;
  }
  conn_close(c);
}

/* One connect attempt to the gateway (non-blocking). */
static void gateway_connect(struct conn *c) {
  int r;
  do {
    r = connect(c->s[GW].fd, (const struct sockaddr *)&gw_addr, sizeof gw_addr);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    gateway_connected(c);
  } else if (errno == EINPROGRESS) {
    c->state = C_CONNECTING;
  } else if (errno == EAGAIN) { /* the gateway's backlog is full: nothing pending, try again */
    c->state = C_RETRY;
    c->retry_at = now_ms() + RETRY_MS;
  } else {
    gateway_failed(c, errno);
  }
}

/* Work on c after epoll reported `ev` on side i. */
static void service(struct conn *c, int i, uint32_t ev) {
  if (ev & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->s[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err && i == GW && c->state == C_CONNECTING) gateway_failed(c, err);
    else if (err) c->dead = true;
  }
  if (!c->dead && i == GW && c->state == C_CONNECTING && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->s[GW].fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) gateway_failed(c, err);
    else gateway_connected(c);
  }
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    do_read(c, i);
    do_write(c, 1 - i); /* pass it on at once */
  }
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) do_write(c, i);
  settle(c);
}

static void open_conn(int fd) {
  if (nconns >= MAX_CONNS) {
    close(fd);
    notice_fail(&cap_notice, "%d connections are open: further ones are closed", MAX_CONNS);
    return;
  }
  if (nconns < MAX_CONNS * 3 / 4) notice_ok(&cap_notice, "accepting connections again");
  char token[TOKEN_MAX + 1];
  size_t tlen = read_token(token);
  if (tlen == 0) {
    close(fd);
    return;
  }
  struct conn *c = calloc(1, sizeof *c);
  int gfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!c || gfd < 0 || !buf_room(&c->b[TCP])) {
    const char *why = c && gfd < 0 ? strerror(errno) : "out of memory";
    notice_fail(&cap_notice, "cannot open a connection to the gateway: %s", why);
    explicit_bzero(token, sizeof token);
    if (gfd >= 0) close(gfd);
    if (c) buf_release(&c->b[TCP]);
    free(c);
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* relay small writes (TLS) at once */
  /* The preamble goes first in the client's direction. */
  struct buf *b = &c->b[TCP];
  memcpy(b->p, "BERTH-EGRESS ", 13);
  memcpy(b->p + 13, token, tlen);
  b->p[13 + tlen] = '\n';
  b->end = 13 + tlen + 1;
  explicit_bzero(token, sizeof token);

  while (conns[next_slot]) next_slot = (next_slot + 1) % MAX_CONNS; /* nconns < MAX_CONNS */
  c->slot = next_slot;
  conns[c->slot] = c;
  nconns++;
  c->s[TCP].fd = fd;
  c->s[GW].fd = gfd;
  c->state = C_RETRY;
  npending++;
  c->deadline = now_ms() + CONNECT_TIMEOUT_MS;
  gateway_connect(c);
  if (c->state == C_OPEN) do_write(c, GW);
  settle(c);
}

/* ---- the listener ---- */

static void arm_listener(bool on) {
  if (on == listener_armed) return;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTENER_TAG};
  if (epoll_ctl(epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, lfd, &ev) < 0) {
    say("cannot watch the listener: %s; exiting", strerror(errno));
    _exit(1);
  }
  listener_armed = on;
}

static void accept_some(void) {
  for (int k = 0; k < ACCEPT_BATCH; k++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      open_conn(fd);
      continue;
    }
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return;
    case EINTR:
    /* A connection that failed before we took it (accept(2) passes pending network errors). */
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM:
      continue;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      /* The pending connection stays queued and the listener readable: stop watching it for a
       * while instead of spinning. */
      notice_fail(&cap_notice, "cannot accept: %s; pausing", strerror(errno));
      arm_listener(false);
      resume_accept_at = now_ms() + ACCEPT_PAUSE_MS;
      return;
    default:
      say("the listener failed: %s; exiting", strerror(errno));
      _exit(1);
    }
  }
}

/* Connect retries and timeouts, and resuming a paused listener. */
static void run_timers(void) {
  int64_t now = now_ms();
  if (!listener_armed && now >= resume_accept_at) arm_listener(true);
  if (npending == 0) return;
  for (unsigned i = 0; i < MAX_CONNS; i++) {
    struct conn *c = conns[i];
    if (!c || c->state == C_OPEN) continue;
    if (now >= c->deadline) {
      gateway_failed(c, ETIMEDOUT);
    } else if (c->state == C_RETRY && now >= c->retry_at) {
      gateway_connect(c);
      if (c->state == C_OPEN) do_write(c, GW);
    } else {
      continue;
    }
    settle(c);
  }
}

/* Enough descriptors for MAX_CONNS pairs, when the hard limit allows. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  rlim_t want = MAX_CONNS * 2 + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

_Noreturn void forward_run(int listen_fd, const char *socket_path, const char *token_file, const char *listen_desc) {
  struct sigaction ign = {.sa_handler = SIG_IGN};
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  raise_fd_limit();

  lfd = listen_fd;
  gw_path = socket_path;
  token_path = token_file;
  gw_addr.sun_family = AF_UNIX;
  memcpy(gw_addr.sun_path, socket_path, strlen(socket_path) + 1); /* length checked by boot */
  int fl = fcntl(lfd, F_GETFL);
  if (fl >= 0) fcntl(lfd, F_SETFL, fl | O_NONBLOCK);

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    say("epoll_create1 failed: %s; exiting", strerror(errno));
    _exit(1);
  }
  arm_listener(true);
  say("forwarding %.100s to %.200s (pid %d)", listen_desc, socket_path, (int)getpid());

  static struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int timeout = -1;
    if (npending > 0) timeout = RETRY_MS;
    if (!listener_armed) {
      int64_t left = resume_accept_at - now_ms();
      int t = left < 0 ? 0 : left > ACCEPT_PAUSE_MS ? ACCEPT_PAUSE_MS : (int)left;
      if (timeout < 0 || t < timeout) timeout = t;
    }
    int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      say("epoll_wait failed: %s; exiting", strerror(errno));
      _exit(1);
    }
    bool accept_ready = false;
    for (int k = 0; k < n; k++) {
      uint64_t tag = evs[k].data.u64;
      if (tag == LISTENER_TAG) {
        accept_ready = true; /* after this batch: a reused slot must not get a stale event */
        continue;
      }
      struct conn *c = conns[tag / 2];
      if (c) service(c, (int)(tag % 2), evs[k].events);
    }
    if (accept_ready) accept_some();
    run_timers();
  }
}

/*
 * Path rules and the safe walk.
 *
 * Every file operation resolves its path here, one component at a time, each step an
 * openat(current_dir_fd, component, O_PATH|O_NOFOLLOW) followed by fstat on the resulting fd.
 * Nothing is ever looked up by a full path string, and ".." is never handed to the kernel, so
 * however the workspace changes under us (symlinks swapped in a loop, directories renamed), every
 * step starts from a directory we already hold and stays inside the root.
 *
 * Symlinks met on the way are followed only when they are relative and their target, resolved
 * lexically from the link's directory, stays inside the root. We implement that by rewriting the
 * path: the link's directory (as resolved so far), then the target's components (a ".." pops one,
 * popping past the root fails with escapes_root), then the rest of the path; the walk then restarts
 * from the root fd. At most MAX_LINKS links are followed per resolution (then `loop`).
 *
 * openat2(RESOLVE_BENEATH) is deliberately not used, though the contract allows it: the kernel
 * resolves ".." inside a link target physically, not lexically as this contract says, and gVisor
 * and older kernels lack it. One walk with one set of semantics everywhere is easier to trust.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

void path_normalize(const char *path, char *dst, const char *what) {
  size_t len = strlen(path);
  if (len > PATH_LIMIT) die(ERR_INVALID_PATH, "%s is longer than %d bytes", what, PATH_LIMIT);
  if (path[0] == '/') die(ERR_INVALID_PATH, "%s \"%.200s\" must be relative to the root", what, path);
  size_t o = 0;
  if (len == 0) {
    dst[0] = '\0';
    return;
  }
  const char *p = path;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0) die(ERR_INVALID_PATH, "%s \"%.200s\" has an empty component", what, path);
    if (n > NAME_LIMIT)
      die(ERR_INVALID_PATH, "%s \"%.200s\" has a component longer than %d bytes", what, path, NAME_LIMIT);
    if (n == 2 && p[0] == '.' && p[1] == '.')
      die(ERR_INVALID_PATH, "%s \"%.200s\" must not contain \"..\"", what, path);
    if (!(n == 1 && p[0] == '.')) {
      if (o) dst[o++] = '/';
      memcpy(dst + o, p, n);
      o += n;
    }
    if (!slash) break;
    p = slash + 1;
  }
  dst[o] = '\0';
}

int open_root(const char *root) {
  if (root[0] != '/') die(ERR_INVALID_PATH, "root \"%.200s\" must be an absolute path", root);
  if (strlen(root) > PATH_LIMIT) die(ERR_INVALID_PATH, "root is longer than %d bytes", PATH_LIMIT);
  /* The root path comes from Berth, not from the workspace, so the kernel may resolve it. */
  int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) die_errno(errno, "cannot open root \"%.200s\"", root);
  return fd;
}

const char *path_basename(const char *norm) {
  const char *slash = strrchr(norm, '/');
  return slash ? slash + 1 : norm;
}

const char *root_basename(const char *root) {
  static char name[NAME_LIMIT + 1];
  const char *end = root + strlen(root);
  while (end > root + 1 && end[-1] == '/') end--;
  const char *start = end;
  while (start > root && start[-1] != '/') start--;
  size_t n = (size_t)(end - start);
  if (n > NAME_LIMIT) n = NAME_LIMIT;
  memcpy(name, start, n);
  name[n] = '\0';
  return name;
}

/* Appends component c (n bytes) to the path in buf (length *len, capacity REL_MAX). */
static bool push_comp(char *buf, size_t *len, const char *c, size_t n) {
  if (*len + 1 + n > REL_MAX) return false;
  if (*len) buf[(*len)++] = '/';
  memcpy(buf + *len, c, n);
  *len += n;
  buf[*len] = '\0';
  return true;
}

static void pop_comp(char *buf, size_t *len) {
  char *slash = strrchr(buf, '/');
  *len = slash ? (size_t)(slash - buf) : 0;
  buf[*len] = '\0';
}

static int count_comps(const char *rel) {
  if (!*rel) return 0;
  int n = 1;
  for (const char *p = rel; *p; p++)
    if (*p == '/') n++;
  return n;
}

/* Reads the target of the symlink opened (O_PATH|O_NOFOLLOW) as fd, named name in dirfd. */
static void read_link(int fd, int dirfd, const char *name, char *buf, size_t cap, const char *display) {
  /* readlinkat(fd, "") reads the very link we fstat'ed; fall back to the name on kernels that
   * do not support an empty path there. */
  ssize_t n = readlinkat(fd, "", buf, cap);
  if (n < 0 && (errno == ENOENT || errno == EINVAL)) n = readlinkat(dirfd, name, buf, cap);
  if (n < 0) die_errno(errno, "cannot read symlink while resolving \"%.200s\"", display);
  if ((size_t)n >= cap) die(ERR_INVALID_PATH, "symlink target too long while resolving \"%.200s\"", display);
  buf[n] = '\0';
}

void walk(int rootfd, const char *norm, unsigned flags, struct walk *w) {
  char pending[REL_MAX + 1]; /* the path still to resolve, normalized, relative to the root */
  char next[REL_MAX + 1];
  char target[PATH_LIMIT + 1];
  int links = 0;
  const char *display = norm;

  memset(w, 0, sizeof *w);
  w->fd = -1;
  strcpy(pending, norm); /* norm is at most PATH_LIMIT bytes */

restart:;
  int cur = xdup(rootfd);
  size_t rlen = 0; /* w->rel holds the resolved path of cur */
  w->rel[0] = '\0';
  if (!pending[0]) { /* the root itself */
    w->dirfd = cur;
    w->fd = xdup(rootfd);
    w->exists = true;
    w->name[0] = '\0';
    if (fstat(w->fd, &w->st) < 0) die_errno(errno, "cannot stat the root");
    w->depth = 0;
    return;
  }
  const char *p = pending;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    bool last = slash == NULL;
    char comp[NAME_LIMIT + 1];
    memcpy(comp, p, n); /* n <= NAME_LIMIT: checked by path_normalize and when rewriting */
    comp[n] = '\0';

    int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && !last && (flags & W_MKDIRS)) {
      if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
        die_errno(errno, "cannot create a directory for \"%.200s\"", display);
      /* If someone raced us and put a symlink there, the open below sees it and the link
       * is handled by the rules like any other. */
      fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT && last && (flags & W_MISSING_OK)) {
        w->dirfd = cur;
        w->exists = false;
        strcpy(w->name, comp);
        push_comp(w->rel, &rlen, comp, n);
        w->depth = count_comps(w->rel);
        return;
      }
      if (err == ENOENT) die(ERR_NOT_FOUND, "\"%.200s\" does not exist", display);
      die_errno(err, "cannot resolve \"%.200s\"", display);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) die_errno(errno, "cannot stat \"%.200s\"", display);

    if (S_ISLNK(st.st_mode) && (!last || (flags & W_FOLLOW))) {
      if (++links > MAX_LINKS)
        die(ERR_LOOP, "too many levels of symbolic links resolving \"%.200s\"", display);
      read_link(fd, cur, comp, target, sizeof target, display);
      if (target[0] == '/')
        die(ERR_ESCAPES_ROOT, "\"%.200s\" leads to a symlink with an absolute target", display);
      /* next = (link's directory) + target, resolved lexically, + the rest of the path */
      size_t nlen = rlen;
      memcpy(next, w->rel, rlen + 1);
      for (char *t = target;;) {
        char *ts = strchr(t, '/');
        size_t tn = ts ? (size_t)(ts - t) : strlen(t);
        if (tn == 0 || (tn == 1 && t[0] == '.')) {
          /* "a//b", "./a" and a trailing slash name the same place */
        } else if (tn == 2 && t[0] == '.' && t[1] == '.') {
          if (nlen == 0) die(ERR_ESCAPES_ROOT, "\"%.200s\" leads to a symlink that leaves the root", display);
          pop_comp(next, &nlen);
        } else {
          if (tn > NAME_LIMIT) die(ERR_INVALID_PATH, "a symlink target component is too long in \"%.200s\"", display);
          if (!push_comp(next, &nlen, t, tn)) die(ERR_INVALID_PATH, "\"%.200s\" resolves to a path too long", display);
        }
        if (!ts) break;
        t = ts + 1;
      }
      if (slash && !push_comp(next, &nlen, slash + 1, strlen(slash + 1)))
        die(ERR_INVALID_PATH, "\"%.200s\" resolves to a path too long", display);
      memcpy(pending, next, nlen + 1);
      close(fd);
      close(cur);
      goto restart;
    }

    if (last) {
      w->dirfd = cur;
      w->fd = fd;
      w->exists = true;
      w->st = st;
      strcpy(w->name, comp);
      push_comp(w->rel, &rlen, comp, n);
      w->depth = count_comps(w->rel);
      return;
    }
    if (!S_ISDIR(st.st_mode)) die(ERR_NOT_A_DIRECTORY, "a component of \"%.200s\" is not a directory", display);
    close(cur);
    cur = fd;
    push_comp(w->rel, &rlen, comp, n); /* fits: rel is a prefix of pending */
    p = slash + 1;
  }
}

void walk_release(struct walk *w) {
  xclose(w->fd);
  xclose(w->dirfd);
  w->fd = w->dirfd = -1;
}

int walk_open_regular(const struct walk *w, const char *display) {
  /* O_NONBLOCK: if a FIFO was swapped in after the walk, open must not hang; O_NOFOLLOW: a
   * symlink swapped in fails instead of being followed. The fstat check then proves the fd is
   * the very regular file the walk found. */
  int fd = openat(w->dirfd, w->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) die_errno(errno, "cannot open \"%.200s\"", display);
  struct stat st;
  if (fstat(fd, &st) < 0) die_errno(errno, "cannot stat \"%.200s\"", display);
  if (!S_ISREG(st.st_mode) || st.st_dev != w->st.st_dev || st.st_ino != w->st.st_ino)
    die(ERR_IO_ERROR, "\"%.200s\" changed while it was being opened", display);
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

/* ---- directory reading ---- */

struct dir_iter *dir_iter_new(int fd) {
  struct dir_iter *it = malloc(sizeof *it);
  if (!it) die(ERR_IO_ERROR, "out of memory");
  it->fd = fd;
  it->pos = it->len = 0;
  return it;
}

const char *dir_iter_next(struct dir_iter *it, unsigned char *dtype) {
  for (;;) {
    if (it->pos >= it->len) {
      ssize_t n = getdents64(it->fd, it->buf, sizeof it->buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        die_errno(errno, "cannot read a directory");
      }
      if (n == 0) return NULL;
      it->len = (size_t)n;
      it->pos = 0;
    }
    struct dirent64 *d = (struct dirent64 *)(it->buf + it->pos);
    it->pos += d->d_reclen;
    if (d->d_name[0] == '.' && (d->d_name[1] == '\0' || (d->d_name[1] == '.' && d->d_name[2] == '\0')))
      continue;
    if (dtype) *dtype = d->d_type;
    return d->d_name;
  }
}

void dir_iter_rewind(struct dir_iter *it) {
  if (lseek(it->fd, 0, SEEK_SET) < 0) die_errno(errno, "cannot rewind a directory");
  it->pos = it->len = 0;
}

void dir_iter_free(struct dir_iter *it) { free(it); }

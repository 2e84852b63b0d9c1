/*
 * File commands: stat, list, read, write, mkdir, move, remove (tar lives in tar.c).
 *
 * Each command opens the root once, resolves its path(s) with walk() and then acts only through
 * the file descriptors the walk returned, so a concurrent change in the workspace can make an
 * operation fail but never make it act outside the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common.h"

#define LINK_MAX_BYTES PATH_LIMIT

/* ---- entries as JSON ---- */

static const char *type_name(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISLNK(m)) return "symlink";
  return "other";
}

static void print_entry(const char *path, size_t plen, const char *name, const struct stat *st,
                        const char *link, size_t linklen) {
  sink_str(&out, "{\"path\":");
  json_string(&out, path, plen);
  sink_str(&out, ",\"name\":");
  json_string(&out, name, strlen(name));
  sink_str(&out, ",\"type\":\"");
  sink_str(&out, type_name(st->st_mode));
  sink_str(&out, "\",\"size\":");
  sink_i64(&out, (int64_t)st->st_size);
  sink_str(&out, ",\"mode\":");
  sink_i64(&out, (int64_t)(st->st_mode & 07777));
  sink_str(&out, ",\"mtimeMs\":");
  sink_i64(&out, (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000);
  if (link) {
    sink_str(&out, ",\"linkTarget\":");
    json_string(&out, link, linklen);
  }
  sink_str(&out, "}\n");
}

/* ---- stat ---- */

static int fs_stat(int argc, char **argv) {
  bool follow = false;
  if (argc == 3 && strcmp(argv[2], "--follow") == 0) follow = true;
  else if (argc != 2) die(ERR_USAGE, "usage: fs stat <root> <path> [--follow]");
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  int rootfd = open_root(argv[0]);
  struct walk w;
  walk(rootfd, norm, follow ? W_FOLLOW : 0, &w);
  char link[LINK_MAX_BYTES + 1];
  ssize_t ln = -1;
  if (S_ISLNK(w.st.st_mode)) {
    ln = readlinkat(w.fd, "", link, sizeof link - 1);
    if (ln < 0) ln = readlinkat(w.dirfd, w.name, link, sizeof link - 1);
    if (ln < 0) die_errno(errno, "cannot read symlink \"%.200s\"", norm);
  }
  const char *name = norm[0] ? path_basename(norm) : root_basename(argv[0]);
  print_entry(norm, strlen(norm), name, &w.st, ln >= 0 ? link : NULL, ln >= 0 ? (size_t)ln : 0);
  sink_flush(&out);
  return 0;
}

/* ---- list ---- */

struct lister {
  uint64_t max, emitted;
  int depth;
  bool done;
  char path[(MAX_DEPTH + 1) * (NAME_LIMIT + 1) + PATH_LIMIT + 2];
};

struct names {
  char **v;
  size_t n, cap;
};

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b); /* strcmp compares bytes as unsigned */
}

/* Sorts and keeps the `keep` smallest names, freeing the rest. */
static void names_trim(struct names *ns, size_t keep) {
  if (ns->n > 1) qsort(ns->v, ns->n, sizeof *ns->v, cmp_names);
  for (size_t i = keep; i < ns->n; i++) free(ns->v[i]);
  if (ns->n > keep) ns->n = keep;
}

/* Reads a directory's names in sorted order. Only the `keep` smallest can ever be printed (the
 * listing stops after maxEntries), so memory stays within 2 * keep names per directory level. */
static void read_names(int fd, size_t keep, struct names *ns) {
  struct dir_iter *it = dir_iter_new(fd);
  ns->v = NULL;
  ns->n = ns->cap = 0;
  const char *name;
  while ((name = dir_iter_next(it, NULL))) {
    if (ns->n == ns->cap) {
      size_t cap = ns->cap ? ns->cap * 2 : 64;
      char **v = realloc(ns->v, cap * sizeof *v);
      if (!v) die(ERR_IO_ERROR, "out of memory");
      ns->v = v;
      ns->cap = cap;
    }
    ns->v[ns->n] = strdup(name);
    if (!ns->v[ns->n]) die(ERR_IO_ERROR, "out of memory");
    ns->n++;
    if (ns->n >= 2 * keep && ns->n > 64) names_trim(ns, keep);
  }
  dir_iter_free(it);
  names_trim(ns, ns->n < keep ? ns->n : keep);
}

static void list_dir(struct lister *L, int fd, size_t plen, int level) {
  uint64_t remaining = L->max - L->emitted;
  size_t keep = remaining >= SIZE_MAX / 4 ? SIZE_MAX / 4 : (size_t)remaining + 1;
  struct names ns;
  read_names(fd, keep, &ns);
  for (size_t i = 0; i < ns.n && !L->done; i++) {
    const char *name = ns.v[i];
    struct stat st;
    /* An entry that vanished since readdir (or cannot be stat'ed) is simply not listed. */
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (L->emitted == L->max) {
      sink_str(&out, "{\"truncated\":true}\n");
      L->done = true;
      break;
    }
    size_t nlen = strlen(name);
    size_t clen = plen;
    if (clen) L->path[clen++] = '/';
    memcpy(L->path + clen, name, nlen);
    clen += nlen;
    char link[LINK_MAX_BYTES + 1];
    ssize_t ln = -1;
    if (S_ISLNK(st.st_mode)) {
      ln = readlinkat(fd, name, link, sizeof link - 1);
      if (ln < 0) ln = 0; /* replaced meanwhile: report an empty target */
    }
    print_entry(L->path, clen, name, &st, ln >= 0 ? link : NULL, ln >= 0 ? (size_t)ln : 0);
    L->emitted++;
    if (S_ISDIR(st.st_mode) && level < L->depth) {
      /* O_NOFOLLOW|O_DIRECTORY: if the entry was swapped for a symlink, we do not descend. */
      int cfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd >= 0) {
        list_dir(L, cfd, clen, level + 1);
        close(cfd);
      }
    }
  }
  for (size_t i = 0; i < ns.n; i++) free(ns.v[i]);
  free(ns.v);
}

static int fs_list(int argc, char **argv) {
  if (argc != 4) die(ERR_USAGE, "usage: fs list <root> <path> <depth> <maxEntries>");
  static struct lister L;
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  uint64_t depth = parse_u64(argv[2], "depth");
  if (depth < 1) die(ERR_USAGE, "depth must be at least 1");
  L.depth = depth > MAX_DEPTH ? MAX_DEPTH : (int)depth;
  L.max = parse_u64(argv[3], "maxEntries");
  int rootfd = open_root(argv[0]);
  struct walk w;
  walk(rootfd, norm, W_FOLLOW, &w);
  if (!S_ISDIR(w.st.st_mode)) die(ERR_NOT_A_DIRECTORY, "\"%.200s\" is not a directory", norm);
  /* Reopen the very directory the walk found (no name lookup, so no race) for reading. */
  int fd = openat(w.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) die_errno(errno, "cannot open \"%.200s\"", norm);
  size_t plen = strlen(norm);
  memcpy(L.path, norm, plen);
  list_dir(&L, fd, plen, 1);
  sink_flush(&out);
  return 0;
}

/* ---- read ---- */

static int fs_read(int argc, char **argv) {
  if (argc != 3) die(ERR_USAGE, "usage: fs read <root> <path> <maxBytes>");
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  uint64_t max = parse_u64(argv[2], "maxBytes");
  int rootfd = open_root(argv[0]);
  struct walk w;
  walk(rootfd, norm, W_FOLLOW, &w);
  if (S_ISDIR(w.st.st_mode)) die(ERR_IS_A_DIRECTORY, "\"%.200s\" is a directory", norm);
  if (!S_ISREG(w.st.st_mode)) die(ERR_UNSUPPORTED_TYPE, "\"%.200s\" is not a regular file", norm);
  int fd = walk_open_regular(&w, norm);
  struct stat st;
  if (fstat(fd, &st) < 0) die_errno(errno, "cannot stat \"%.200s\"", norm);
  if ((uint64_t)st.st_size > max)
    die(ERR_TOO_LARGE, "\"%.200s\" is %lld bytes, more than %llu", norm, (long long)st.st_size,
        (unsigned long long)max);
  /* Send at most the size checked above: a file growing meanwhile cannot exceed the cap. */
  uint64_t left = (uint64_t)st.st_size;
  static char buf[IO_CHUNK];
  while (left > 0) {
    size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
    ssize_t r = read(fd, buf, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      die_errno(errno, "cannot read \"%.200s\"", norm);
    }
    if (r == 0) break; /* shrank meanwhile */
    write_all(1, buf, (size_t)r);
    left -= (uint64_t)r;
  }
  return 0;
}

/* ---- write ---- */

static int tmp_dirfd = -1;
static char tmp_name[64];

static void remove_tmp(void) {
  if (tmp_dirfd >= 0 && tmp_name[0]) unlinkat(tmp_dirfd, tmp_name, 0);
}

/* Creates a fresh temporary file in dirfd with O_EXCL|O_NOFOLLOW under a random name. */
static int create_tmp(int dirfd, mode_t mode) {
  for (int attempt = 0; attempt < 16; attempt++) {
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
      for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)(rand() ^ getpid() ^ attempt);
    }
    snprintf(tmp_name, sizeof tmp_name, ".berth-tmp-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    int fd = openat(dirfd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) {
      tmp_dirfd = dirfd;
      set_cleanup(remove_tmp);
      return fd;
    }
    if (errno != EEXIST) {
      tmp_name[0] = '\0';
      die_errno(errno, "cannot create a temporary file");
    }
  }
  tmp_name[0] = '\0';
  die(ERR_IO_ERROR, "cannot create a temporary file");
}

static int fs_write(int argc, char **argv) {
  set_drain_stdin_on_exit(true);
  if (argc != 5) die(ERR_USAGE, "usage: fs write <root> <path> <mode> <parents> <maxBytes>");
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  mode_t mode = parse_mode(argv[2]);
  bool parents = parse_bool01(argv[3], "parents");
  uint64_t max = parse_u64(argv[4], "maxBytes");
  int rootfd = open_root(argv[0]);
  if (!norm[0]) die(ERR_IS_A_DIRECTORY, "the root is a directory");
  struct walk w;
  walk(rootfd, norm, W_MISSING_OK | (parents ? W_MKDIRS : 0), &w);
  if (w.exists && S_ISDIR(w.st.st_mode)) die(ERR_IS_A_DIRECTORY, "\"%.200s\" is a directory", norm);

  int fd = create_tmp(w.dirfd, mode);
  static char buf[IO_CHUNK];
  uint64_t total = 0;
  for (;;) {
    ssize_t r = read(0, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      die_errno(errno, "cannot read the content");
    }
    if (r == 0) break;
    total += (uint64_t)r;
    if (total > max) die(ERR_TOO_LARGE, "the content is larger than %llu bytes", (unsigned long long)max);
    write_all(fd, buf, (size_t)r);
  }
  /* umask is 0 for file commands, so the mode given at creation is already exact. The data is
   * made durable before the rename publishes it, so a crash cannot leave an empty file behind a
   * write that reported success. */
  if (fsync(fd) < 0 && errno != EINVAL) die_errno(errno, "cannot write \"%.200s\"", norm);
  if (close(fd) < 0) die_errno(errno, "cannot write \"%.200s\"", norm);
  /* renameat replaces whatever is at the name (a symlink itself, never its target) atomically. */
  if (renameat(w.dirfd, tmp_name, w.dirfd, w.name) < 0) die_errno(errno, "cannot write \"%.200s\"", norm);
  set_cleanup(NULL);
  return 0;
}

/* ---- mkdir ---- */

static int fs_mkdir(int argc, char **argv) {
  if (argc != 4) die(ERR_USAGE, "usage: fs mkdir <root> <path> <mode> <parents>");
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  mode_t mode = parse_mode(argv[2]);
  bool parents = parse_bool01(argv[3], "parents");
  int rootfd = open_root(argv[0]);
  struct walk w;
  walk(rootfd, norm, W_MISSING_OK | (parents ? W_MKDIRS : 0), &w);
  if (!w.exists) {
    if (mkdirat(w.dirfd, w.name, mode) == 0) return 0;
    if (errno != EEXIST) die_errno(errno, "cannot create \"%.200s\"", norm);
  }
  if (!parents) die(ERR_EXISTS, "\"%.200s\" already exists", norm);
  /* mkdir -p semantics: fine when a directory (or a symlink to one, under the rules) is there. */
  walk_release(&w);
  walk(rootfd, norm, W_FOLLOW, &w);
  if (!S_ISDIR(w.st.st_mode)) die(ERR_EXISTS, "\"%.200s\" exists and is not a directory", norm);
  return 0;
}

/* ---- move ---- */

static int fs_move(int argc, char **argv) {
  if (argc != 4) die(ERR_USAGE, "usage: fs move <root> <from> <to> <overwrite>");
  char from[PATH_LIMIT + 1], to[PATH_LIMIT + 1];
  path_normalize(argv[1], from, "from");
  path_normalize(argv[2], to, "to");
  bool overwrite = parse_bool01(argv[3], "overwrite");
  int rootfd = open_root(argv[0]);
  if (!from[0] || !to[0]) die(ERR_INVALID_PATH, "the root itself cannot be moved or replaced");
  static struct walk a, b;
  walk(rootfd, from, 0, &a);
  walk(rootfd, to, W_MISSING_OK, &b);
  int r = renameat2(a.dirfd, a.name, b.dirfd, b.name, overwrite ? 0 : RENAME_NOREPLACE);
  if (r < 0 && errno == EINVAL && !overwrite) {
    /* RENAME_NOREPLACE unsupported by this file system: check, then rename (best effort). If
     * the plain rename fails with EINVAL too, the EINVAL was about the paths (see below). */
    struct stat st;
    if (fstatat(b.dirfd, b.name, &st, AT_SYMLINK_NOFOLLOW) == 0) errno = EEXIST;
    else r = renameat(a.dirfd, a.name, b.dirfd, b.name);
  }
  if (r < 0) {
    if (errno == EEXIST) die(ERR_EXISTS, "\"%.200s\" already exists", to);
    if (errno == EINVAL) die(ERR_INVALID_PATH, "cannot move \"%.200s\" into itself", from);
    die_errno(errno, "cannot move \"%.200s\" to \"%.200s\"", from, to);
  }
  return 0;
}

/* ---- remove ---- */

/* Empties the directory open as fd, never following symlinks: children are unlinked by name in
 * fd, subdirectories opened with O_NOFOLLOW|O_DIRECTORY. */
static void empty_dir(int fd, int level, const char *display) {
  if (level > MAX_DEPTH) die(ERR_TOO_LARGE, "\"%.200s\" is deeper than %d levels", display, MAX_DEPTH);
  struct dir_iter *it = dir_iter_new(fd);
  /* Repeat passes until one finds nothing: entries may be missed by a pass that deletes while
   * reading, or added concurrently. */
  for (int pass = 0;; pass++) {
    bool found = false;
    const char *name;
    unsigned char dtype;
    while ((name = dir_iter_next(it, &dtype))) {
      found = true;
      if (unlinkat(fd, name, 0) == 0 || errno == ENOENT) continue;
      /* Linux says EISDIR for a directory; POSIX also allows EPERM. */
      int err = errno;
      if (err != EISDIR && err != EPERM) die_errno(err, "cannot remove inside \"%.200s\"", display);
      int cfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd < 0) {
        if (errno == ENOENT) continue;
        die_errno(errno == ENOTDIR ? err : errno, "cannot remove inside \"%.200s\"", display);
      }
      empty_dir(cfd, level + 1, display);
      close(cfd);
      if (unlinkat(fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        die_errno(errno, "cannot remove inside \"%.200s\"", display);
    }
    if (!found) break;
    if (pass >= 64) die(ERR_NOT_EMPTY, "\"%.200s\" keeps getting new entries", display);
    dir_iter_rewind(it);
  }
  dir_iter_free(it);
}

static int fs_remove(int argc, char **argv) {
  if (argc != 3) die(ERR_USAGE, "usage: fs remove <root> <path> <recursive>");
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  bool recursive = parse_bool01(argv[2], "recursive");
  int rootfd = open_root(argv[0]);
  if (!norm[0]) die(ERR_INVALID_PATH, "the root itself cannot be removed");
  struct walk w;
  walk(rootfd, norm, 0, &w);
  if (!S_ISDIR(w.st.st_mode)) {
    if (unlinkat(w.dirfd, w.name, 0) < 0) die_errno(errno, "cannot remove \"%.200s\"", norm);
    return 0;
  }
  if (recursive) {
    /* Reopen the directory the walk found through its fd: no name lookup, no race. */
    int fd = openat(w.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die_errno(errno, "cannot open \"%.200s\"", norm);
    empty_dir(fd, 1, norm);
    close(fd);
  }
  if (unlinkat(w.dirfd, w.name, AT_REMOVEDIR) < 0) {
    if (errno == ENOTEMPTY || errno == EEXIST) die(ERR_NOT_EMPTY, "\"%.200s\" is not empty", norm);
    die_errno(errno, "cannot remove \"%.200s\"", norm);
  }
  return 0;
}

/* ---- dispatch ---- */

int cmd_fs(int argc, char **argv) {
  if (argc < 1) die(ERR_USAGE, "usage: fs <stat|list|read|write|mkdir|move|remove|tar-create|tar-extract> ...");
  const char *sub = argv[0];
  argc--;
  argv++;
  if (argc < 1) die(ERR_USAGE, "usage: fs %s <root> ...", sub);
  if (strcmp(sub, "stat") == 0) return fs_stat(argc, argv);
  if (strcmp(sub, "list") == 0) return fs_list(argc, argv);
  if (strcmp(sub, "read") == 0) return fs_read(argc, argv);
  if (strcmp(sub, "write") == 0) return fs_write(argc, argv);
  if (strcmp(sub, "mkdir") == 0) return fs_mkdir(argc, argv);
  if (strcmp(sub, "move") == 0) return fs_move(argc, argv);
  if (strcmp(sub, "remove") == 0) return fs_remove(argc, argv);
  if (strcmp(sub, "tar-create") == 0) return cmd_tar_create(argc, argv);
  if (strcmp(sub, "tar-extract") == 0) return cmd_tar_extract(argc, argv);
  die(ERR_USAGE, "unknown fs command \"%.50s\"", sub);
}

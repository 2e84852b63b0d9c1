/*
 * tar-create and tar-extract: POSIX ustar with PAX extended headers, streamed in both directions
 * (nothing larger than a 64 KiB buffer, a PAX header or one name is ever held in memory).
 *
 * Header layout (POSIX.1-1988 ustar, offsets in bytes):
 *   name 0/100  mode 100/8  uid 108/8  gid 116/8  size 124/12  mtime 136/12  chksum 148/8
 *   typeflag 156  linkname 157/100  magic 257/6  version 263/2  uname 265/32  gname 297/32
 *   devmajor 329/8  devminor 337/8  prefix 345/155
 * Numbers are octal text; values that do not fit use GNU base-256 (first byte 0x80, or 0xff for
 * negatives) and, on creation, a PAX record as well, which is what modern readers prefer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define BLOCK 512
#define OCTAL_MAX(len) ((UINT64_C(1) << (3 * ((len)-1))) - 1) /* len-1 octal digits + NUL */

static uint64_t padding(uint64_t size) { return (BLOCK - size % BLOCK) % BLOCK; }

/* ================================ creation ================================ */

static const unsigned char ZEROS[BLOCK];

static void put_octal(unsigned char *f, size_t len, uint64_t v) {
  f[len - 1] = '\0';
  for (size_t i = len - 1; i-- > 0;) {
    f[i] = (unsigned char)('0' + (v & 7));
    v >>= 3;
  }
}

/* Base-256: big-endian two's complement over the whole field, top bit of byte 0 set. */
static void put_base256(unsigned char *f, size_t len, int64_t v) {
  uint64_t u = (uint64_t)v;
  for (size_t i = len; i-- > 0;) {
    f[i] = (unsigned char)(u & 0xff);
    u = v < 0 ? (u >> 8) | (UINT64_C(0xff) << 56) : u >> 8;
  }
  f[0] = v < 0 ? 0xff : 0x80;
}

static bool fits_octal(size_t len, int64_t v) { return v >= 0 && (uint64_t)v <= OCTAL_MAX(len); }

static void put_num(unsigned char *f, size_t len, int64_t v) {
  if (fits_octal(len, v)) put_octal(f, len, (uint64_t)v);
  else put_base256(f, len, v);
}

/* A growable buffer for PAX records (their size is bounded by the longest archived path). */
struct pax {
  char *data;
  size_t len, cap;
};

static void pax_add(struct pax *p, const char *key, const char *val, size_t vlen) {
  /* "<len> <key>=<value>\n" where <len> counts itself: find the width that is consistent. */
  size_t base = strlen(key) + vlen + 3; /* ' ', '=', '\n' */
  size_t digits = 1;
  for (size_t t = base + 1; t >= 10; t /= 10) digits++;
  size_t total = base + digits;
  char lenbuf[24];
  int ln = snprintf(lenbuf, sizeof lenbuf, "%zu", total);
  if ((size_t)ln != digits) { /* adding the digits carried into one more digit */
    total++;
    ln = snprintf(lenbuf, sizeof lenbuf, "%zu", total);
  }
  if (p->len + total > p->cap) {
    size_t cap = (p->len + total) * 2;
    char *d = realloc(p->data, cap);
    if (!d) die(ERR_IO_ERROR, "out of memory");
    p->data = d;
    p->cap = cap;
  }
  char *o = p->data + p->len;
  memcpy(o, lenbuf, (size_t)ln);
  o += ln;
  *o++ = ' ';
  memcpy(o, key, strlen(key));
  o += strlen(key);
  *o++ = '=';
  memcpy(o, val, vlen);
  o += vlen;
  *o++ = '\n';
  p->len = (size_t)(o - p->data);
}

static void checksum(unsigned char *h) {
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < BLOCK; i++) sum += h[i];
  put_octal(h + 148, 7, sum); /* six digits, NUL, then the space already there */
  h[155] = ' ';
}

static void raw_header(const char *name, size_t nlen, char type, mode_t mode, int64_t uid, int64_t gid,
                       int64_t size, int64_t mtime, const char *link, size_t llen) {
  unsigned char h[BLOCK];
  memset(h, 0, sizeof h);
  memcpy(h, name, nlen < 100 ? nlen : 100); /* a longer name is carried by a PAX record */
  put_octal(h + 100, 8, mode & 07777); /* permission bits, setuid/setgid/sticky included */
  put_num(h + 108, 8, uid);
  put_num(h + 116, 8, gid);
  put_num(h + 124, 12, size);
  put_num(h + 136, 12, mtime);
  h[156] = (unsigned char)type;
  if (link) memcpy(h + 157, link, llen < 100 ? llen : 100);
  memcpy(h + 257, "ustar\0" "00", 8);
  put_octal(h + 329, 8, 0);
  put_octal(h + 337, 8, 0);
  checksum(h);
  sink_put(&out, h, BLOCK);
}

/* Writes the header(s) of one entry: a PAX 'x' header first when a value does not fit ustar. */
static void entry_header(const char *name, size_t nlen, char type, const struct stat *st, int64_t size,
                         const char *link, size_t llen) {
  int64_t mtime = (int64_t)st->st_mtim.tv_sec;
  struct pax p = {0};
  char num[24];
  if (nlen > 100) pax_add(&p, "path", name, nlen);
  if (llen > 100) pax_add(&p, "linkpath", link, llen);
  if (!fits_octal(12, size)) pax_add(&p, "size", num, (size_t)snprintf(num, sizeof num, "%lld", (long long)size));
  if (!fits_octal(8, (int64_t)st->st_uid))
    pax_add(&p, "uid", num, (size_t)snprintf(num, sizeof num, "%lld", (long long)st->st_uid));
  if (!fits_octal(8, (int64_t)st->st_gid))
    pax_add(&p, "gid", num, (size_t)snprintf(num, sizeof num, "%lld", (long long)st->st_gid));
  if (!fits_octal(12, mtime)) pax_add(&p, "mtime", num, (size_t)snprintf(num, sizeof num, "%lld", (long long)mtime));
  if (p.len) {
    static const char paxname[] = "././@PaxHeader";
    raw_header(paxname, sizeof paxname - 1, 'x', 0644, 0, 0, (int64_t)p.len, fits_octal(12, mtime) ? mtime : 0,
               NULL, 0);
    sink_put(&out, p.data, p.len);
    sink_put(&out, ZEROS, padding(p.len));
    free(p.data);
  }
  raw_header(name, nlen, type, st->st_mode, (int64_t)st->st_uid, (int64_t)st->st_gid, size, mtime, link, llen);
}

struct creator {
  uint64_t max, total;
  char path[(MAX_DEPTH + 2) * (NAME_LIMIT + 1) + 2];
};

/* Archives the regular file open as fd (already checked S_ISREG) under name. */
static void add_file(struct creator *C, int fd, const struct stat *st, size_t plen) {
  uint64_t size = (uint64_t)st->st_size;
  if (size > C->max - C->total)
    die(ERR_TOO_LARGE, "the archive would hold more than %llu bytes of file content", (unsigned long long)C->max);
  C->total += size;
  entry_header(C->path, plen, '0', st, (int64_t)size, NULL, 0);
  /* Exactly `size` bytes follow the header whatever the file does meanwhile: a file that grows
   * is cut, one that shrinks is padded with zeros, so the archive stays well-formed. */
  static char buf[IO_CHUNK];
  uint64_t left = size;
  while (left > 0) {
    size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
    ssize_t r = read(fd, buf, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      die_errno(errno, "cannot read \"%.200s\"", C->path);
    }
    if (r == 0) {
      memset(buf, 0, want);
      r = (ssize_t)want;
    }
    sink_put(&out, buf, (size_t)r);
    left -= (uint64_t)r;
  }
  sink_put(&out, ZEROS, padding(size));
}

static void add_tree(struct creator *C, int dfd, size_t plen, int level) {
  if (level > MAX_DEPTH) die(ERR_TOO_LARGE, "the directory tree is deeper than %d levels", MAX_DEPTH);
  struct dir_iter *it = dir_iter_new(dfd);
  const char *name;
  while ((name = dir_iter_next(it, NULL))) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue; /* removed meanwhile */
      die_errno(errno, "cannot stat \"%.200s/%.200s\"", C->path, name);
    }
    size_t nlen = strlen(name);
    size_t clen = plen + 1 + nlen;
    C->path[plen] = '/';
    memcpy(C->path + plen + 1, name, nlen + 1);
    if (S_ISREG(st.st_mode)) {
      /* O_NOFOLLOW|O_NONBLOCK and the fstat below: a symlink or FIFO swapped in is skipped, never
       * followed or waited on. */
      int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) {
        if (errno == ENOENT || errno == ELOOP) continue;
        die_errno(errno, "cannot open \"%.200s\"", C->path);
      }
      struct stat fst;
      if (fstat(fd, &fst) < 0) die_errno(errno, "cannot stat \"%.200s\"", C->path);
      if (S_ISREG(fst.st_mode)) add_file(C, fd, &fst, clen);
      close(fd);
    } else if (S_ISDIR(st.st_mode)) {
      int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;
        die_errno(errno, "cannot open \"%.200s\"", C->path);
      }
      if (fstat(fd, &st) < 0) die_errno(errno, "cannot stat \"%.200s\"", C->path);
      C->path[clen] = '/';
      entry_header(C->path, clen + 1, '5', &st, 0, NULL, 0);
      add_tree(C, fd, clen, level + 1);
      close(fd);
    } else if (S_ISLNK(st.st_mode)) {
      char link[PATH_LIMIT + 1];
      ssize_t ln = readlinkat(dfd, name, link, sizeof link);
      if (ln < 0) {
        if (errno == ENOENT || errno == EINVAL) continue;
        die_errno(errno, "cannot read symlink \"%.200s\"", C->path);
      }
      if ((size_t)ln >= sizeof link) continue; /* longer than any path Linux can resolve */
      entry_header(C->path, clen, '2', &st, 0, link, (size_t)ln);
    }
    /* devices, FIFOs and sockets are skipped (B18) */
  }
  dir_iter_free(it);
}

int cmd_tar_create(int argc, char **argv) {
  if (argc != 3) die(ERR_USAGE, "usage: fs tar-create <root> <path> <maxBytes>");
  static struct creator C;
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  C.max = parse_u64(argv[2], "maxBytes");
  int rootfd = open_root(argv[0]);
  struct walk w;
  walk(rootfd, norm, W_FOLLOW, &w);
  const char *top = norm[0] ? path_basename(norm) : root_basename(argv[0]);
  if (!top[0]) top = "root";
  size_t tlen = strlen(top);
  memcpy(C.path, top, tlen + 1);
  if (S_ISREG(w.st.st_mode)) {
    int fd = walk_open_regular(&w, norm);
    struct stat st;
    if (fstat(fd, &st) < 0) die_errno(errno, "cannot stat \"%.200s\"", norm);
    add_file(&C, fd, &st, tlen);
    close(fd);
  } else if (S_ISDIR(w.st.st_mode)) {
    int fd = openat(w.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die_errno(errno, "cannot open \"%.200s\"", norm);
    C.path[tlen] = '/';
    entry_header(C.path, tlen + 1, '5', &w.st, 0, NULL, 0);
    add_tree(&C, fd, tlen, 1);
    close(fd);
  } else {
    die(ERR_UNSUPPORTED_TYPE, "\"%.200s\" is neither a regular file nor a directory", norm);
  }
  sink_put(&out, ZEROS, BLOCK); /* end of archive: two zero blocks */
  sink_put(&out, ZEROS, BLOCK);
  sink_flush(&out);
  return 0;
}

/* ================================ extraction ================================ */

/* Buffered stdin. */
static struct {
  unsigned char buf[IO_CHUNK];
  size_t pos, len;
} in;

static size_t in_avail(void) {
  if (in.pos == in.len) {
    in.pos = 0;
    in.len = 0;
    ssize_t r;
    do {
      r = read(0, in.buf, sizeof in.buf);
    } while (r < 0 && errno == EINTR);
    if (r < 0) die_errno(errno, "cannot read the archive");
    in.len = (size_t)r;
  }
  return in.len - in.pos;
}

/* Copies up to n bytes; fewer only at end of input. */
static size_t in_read(void *dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t a = in_avail();
    if (!a) break;
    size_t take = a < n - got ? a : n - got;
    memcpy((char *)dst + got, in.buf + in.pos, take);
    in.pos += take;
    got += take;
  }
  return got;
}

static void in_skip(uint64_t n) {
  while (n > 0) {
    size_t a = in_avail();
    if (!a) die(ERR_INVALID_ARCHIVE, "the archive is truncated");
    size_t take = a < n ? a : (size_t)n;
    in.pos += take;
    n -= take;
  }
}

/* Parses an octal (or base-256) numeric field. Octal: optional leading spaces, digits, then NUL
 * or space padding. Returns false when malformed or out of range. */
static bool parse_num(const unsigned char *f, size_t len, bool allow_negative, int64_t *res) {
  if (f[0] & 0x80) {
    if (f[0] == 0x80) {
      uint64_t v = 0;
      for (size_t i = 1; i < len; i++) {
        if (v > (UINT64_C(1) << 55) - 1) return false; /* would pass INT64_MAX */
        v = (v << 8) | f[i];
      }
      *res = (int64_t)v;
      return true;
    }
    if (f[0] != 0xff || !allow_negative) return false;
    size_t i = 1;
    for (; len - i > 8; i++)
      if (f[i] != 0xff) return false;
    uint64_t u = UINT64_MAX; /* sign extension for fields shorter than 8 value bytes */
    for (; i < len; i++) u = (u << 8) | f[i];
    if ((int64_t)u >= 0) return false;
    *res = (int64_t)u;
    return true;
  }
  size_t i = 0;
  while (i < len && f[i] == ' ') i++;
  uint64_t v = 0;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v > (UINT64_C(1) << 60) - 1) return false;
    v = v * 8 + (uint64_t)(f[i] - '0');
  }
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != '\0') return false;
  *res = (int64_t)v;
  return true;
}

static bool all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

/* Per-entry metadata from PAX 'x' records and GNU 'L'/'K' headers, consumed by the next entry. */
struct meta {
  char *path, *link;          /* PAX path / linkpath */
  char *long_name, *long_link; /* GNU L / K */
  bool has_size, has_mtime;
  uint64_t size;
  int64_t mtime;
  int pending; /* x/L/K headers waiting for their entry */
};

static void meta_reset(struct meta *m) {
  free(m->path);
  free(m->link);
  free(m->long_name);
  free(m->long_link);
  memset(m, 0, sizeof *m);
}

static char *dup_value(const char *v, size_t n, const char *what) {
  if (memchr(v, '\0', n)) die(ERR_INVALID_ARCHIVE, "a PAX %s contains a NUL byte", what);
  if (n > PATH_LIMIT) die(ERR_INVALID_ARCHIVE, "a PAX %s is longer than %d bytes", what, PATH_LIMIT);
  char *s = malloc(n + 1);
  if (!s) die(ERR_IO_ERROR, "out of memory");
  memcpy(s, v, n);
  s[n] = '\0';
  return s;
}

static bool key_is(const char *k, size_t klen, const char *name) {
  return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

/* Parses PAX records "<len> <key>=<value>\n"; applies the ones Berth uses unless global. */
static void parse_pax(const char *d, size_t n, struct meta *m, bool global) {
  size_t pos = 0;
  while (pos < n) {
    size_t i = pos, len = 0;
    while (i < n && d[i] >= '0' && d[i] <= '9') {
      len = len * 10 + (size_t)(d[i] - '0');
      if (len > n) die(ERR_INVALID_ARCHIVE, "a PAX record has a bad length");
      i++;
    }
    if (i == pos || i >= n || d[i] != ' ' || len < i - pos + 3 || len > n - pos || d[pos + len - 1] != '\n')
      die(ERR_INVALID_ARCHIVE, "a PAX record is malformed");
    const char *key = d + i + 1;
    const char *end = d + pos + len - 1;
    const char *eq = memchr(key, '=', (size_t)(end - key));
    if (!eq || eq == key) die(ERR_INVALID_ARCHIVE, "a PAX record is malformed");
    size_t klen = (size_t)(eq - key);
    const char *val = eq + 1;
    size_t vlen = (size_t)(end - val);
    pos += len;
    if (global) continue; /* global defaults (e.g. git's comment) do not affect what Berth writes */
    if (klen > 11 && memcmp(key, "GNU.sparse.", 11) == 0)
      die(ERR_INVALID_ARCHIVE, "sparse file entries are not supported");
    if (key_is(key, klen, "path")) {
      free(m->path);
      m->path = dup_value(val, vlen, "path");
    } else if (key_is(key, klen, "linkpath")) {
      free(m->link);
      m->link = dup_value(val, vlen, "linkpath");
    } else if (key_is(key, klen, "size")) {
      uint64_t v = 0;
      if (vlen == 0 || vlen > 19) die(ERR_INVALID_ARCHIVE, "a PAX size is malformed");
      for (size_t k = 0; k < vlen; k++) {
        if (val[k] < '0' || val[k] > '9') die(ERR_INVALID_ARCHIVE, "a PAX size is malformed");
        v = v * 10 + (uint64_t)(val[k] - '0');
      }
      m->size = v;
      m->has_size = true;
    } else if (key_is(key, klen, "mtime")) {
      /* [-]seconds[.fraction]; the fraction is dropped */
      size_t k = 0;
      bool neg = vlen > 0 && val[0] == '-';
      if (neg) k++;
      int64_t v = 0;
      size_t start = k;
      for (; k < vlen && val[k] >= '0' && val[k] <= '9'; k++) {
        if (v > (INT64_MAX - 9) / 10) die(ERR_INVALID_ARCHIVE, "a PAX mtime is out of range");
        v = v * 10 + (val[k] - '0');
      }
      if (k == start) die(ERR_INVALID_ARCHIVE, "a PAX mtime is malformed");
      if (k < vlen && val[k] == '.') {
        for (k++; k < vlen && val[k] >= '0' && val[k] <= '9'; k++) {
        }
      }
      if (k != vlen) die(ERR_INVALID_ARCHIVE, "a PAX mtime is malformed");
      m->mtime = neg ? -v : v;
      m->has_mtime = true;
    }
    /* other keys (uid, gid, uname, atime, SCHILY.*, ...) are ignored: files belong to the helper's
     * user, with the entry's permission bits and mtime */
  }
}

/* ---- name checks ---- */

/* Normalizes an entry name into out: leading "./" and one trailing "/" dropped; then refuses
 * empty names, absolute names, empty, "." and ".." components and overlong names. */
static void entry_name(const char *raw, size_t n, char *dst, bool *trailing_slash) {
  const char *shown = raw;
  if (memchr(raw, '\0', n)) die(ERR_INVALID_ARCHIVE, "an entry name contains a NUL byte");
  if (n > 0 && raw[0] == '/') die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has an absolute name", shown);
  while (n >= 2 && raw[0] == '.' && raw[1] == '/') {
    raw += 2;
    n -= 2;
  }
  *trailing_slash = n > 0 && raw[n - 1] == '/';
  if (*trailing_slash) n--;
  if (n == 0) die(ERR_INVALID_ARCHIVE, "an entry has an empty name");
  if (n > PATH_LIMIT) die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has a name longer than %d bytes", shown, PATH_LIMIT);
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && raw[i] != '/') continue;
    size_t len = i - start;
    const char *c = raw + start;
    if (len == 0) die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has an empty component", shown);
    if (len == 1 && c[0] == '.') die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has a \".\" component", shown);
    if (len == 2 && c[0] == '.' && c[1] == '.')
      die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has a \"..\" component", shown);
    if (len > NAME_LIMIT) die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has a component longer than 255 bytes", shown);
    start = i + 1;
  }
  memcpy(dst, raw, n);
  dst[n] = '\0';
}

/* ---- duplicate detection: a set of 64-bit name hashes ----
 * Only hashes are kept (8 bytes per entry). A collision can only make us refuse a valid archive
 * as a duplicate, never accept a real duplicate. */

static struct {
  uint64_t *v;
  size_t cap, n;
} seen;

static uint64_t name_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a splitmix64 finalizer */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h ? h : 1; /* 0 marks an empty slot */
}

/* Returns false when the hash was already there. */
static bool seen_add(uint64_t h) {
  if ((seen.n + 1) * 2 > seen.cap) {
    size_t cap = seen.cap ? seen.cap * 2 : 1024;
    uint64_t *v = calloc(cap, sizeof *v);
    if (!v) die(ERR_IO_ERROR, "out of memory");
    for (size_t i = 0; i < seen.cap; i++) {
      if (!seen.v[i]) continue;
      size_t j = (size_t)seen.v[i] & (cap - 1);
      while (v[j]) j = (j + 1) & (cap - 1);
      v[j] = seen.v[i];
    }
    free(seen.v);
    seen.v = v;
    seen.cap = cap;
  }
  size_t j = (size_t)h & (seen.cap - 1);
  while (seen.v[j]) {
    if (seen.v[j] == h) return false;
    j = (j + 1) & (seen.cap - 1);
  }
  seen.v[j] = h;
  seen.n++;
  return true;
}

/* ---- writing entries ---- */

struct extractor {
  int xfd;    /* the extraction directory (O_PATH) */
  int xdepth; /* its depth below the root, for the symlink rule */
  uint64_t max_bytes, max_entries, bytes, entries;
  struct dirattr {
    char *name;
    mode_t mode;
    int64_t mtime;
    int depth;
    bool created;
  } *dirs;
  size_t ndirs, capdirs;
};

/* Opens the directory that will hold `name` (relative to the extraction directory), creating
 * missing intermediate directories (0755). Every component is opened with O_NOFOLLOW: an entry
 * can never be written through a symlink, whether the archive or the workspace made it. Returns
 * the directory fd and points *leaf at the last component, or -1 when a component is missing
 * and create is false. */
static int open_parent(const struct extractor *X, char *name, char **leaf, bool create) {
  int cur = xdup(X->xfd);
  char *p = name;
  for (;;) {
    char *slash = strchr(p, '/');
    if (!slash) break;
    *slash = '\0';
    int fd = openat(cur, p, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST)
        die_errno(errno, "cannot create a directory for \"%.200s\"", name);
      fd = openat(cur, p, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT && !create) {
        *slash = '/';
        close(cur);
        return -1;
      }
      struct stat st;
      if ((err == ENOTDIR || err == ELOOP) && fstatat(cur, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        *slash = '/';
        die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" would be written through a symlink", name);
      }
      *slash = '/';
      die_errno(err, "cannot open the directory of \"%.200s\"", name);
    }
    *slash = '/';
    close(cur);
    cur = fd;
    p = slash + 1;
  }
  *leaf = p;
  return cur;
}

/* Removes a non-directory in the way of a new entry (a symlink is removed, never followed). */
static void replace_nondir(int pfd, const char *leaf, const char *name) {
  if (unlinkat(pfd, leaf, 0) == 0 || errno == ENOENT) return;
  if (errno == EISDIR || errno == EPERM) {
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      die(ERR_IS_A_DIRECTORY, "entry \"%.200s\" would replace a directory", name);
  }
  die_errno(errno, "cannot replace \"%.200s\"", name);
}

static int partial_dirfd = -1;
static char partial_name[NAME_LIMIT + 1];

static void remove_partial(void) {
  if (partial_dirfd >= 0) unlinkat(partial_dirfd, partial_name, 0);
}

static void extract_file(struct extractor *X, char *name, mode_t perm, uint64_t size, int64_t mtime) {
  if (size > X->max_bytes - X->bytes)
    die(ERR_INVALID_ARCHIVE, "the archive holds more than %llu bytes of file content",
        (unsigned long long)X->max_bytes);
  X->bytes += size;
  char *leaf;
  int pfd = open_parent(X, name, &leaf, true);
  replace_nondir(pfd, leaf, name);
  int fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
  if (fd < 0) die_errno(errno, "cannot create \"%.200s\"", name);
  partial_dirfd = pfd;
  strcpy(partial_name, leaf);
  set_cleanup(remove_partial);
  uint64_t left = size;
  while (left > 0) {
    size_t a = in_avail();
    if (!a) die(ERR_INVALID_ARCHIVE, "the archive is truncated inside \"%.200s\"", name);
    size_t take = a < left ? a : (size_t)left;
    write_all(fd, in.buf + in.pos, take);
    in.pos += take;
    left -= take;
  }
  in_skip(padding(size));
  struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = mtime}};
  if (futimens(fd, ts) < 0) die_errno(errno, "cannot set the time of \"%.200s\"", name);
  if (close(fd) < 0) die_errno(errno, "cannot write \"%.200s\"", name);
  set_cleanup(NULL);
  partial_dirfd = -1;
  close(pfd);
}

static void extract_dir(struct extractor *X, char *name, mode_t perm, int64_t mtime) {
  char *leaf;
  int pfd = open_parent(X, name, &leaf, true);
  bool created = true;
  /* Created with owner rwx so the entries inside can be written; the entry's own mode and
   * mtime are applied at the end (finish_dirs). */
  if (mkdirat(pfd, leaf, perm | 0700) < 0) {
    if (errno != EEXIST) die_errno(errno, "cannot create \"%.200s\"", name);
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) die_errno(errno, "cannot stat \"%.200s\"", name);
    if (S_ISDIR(st.st_mode)) {
      created = false; /* merged */
    } else {
      replace_nondir(pfd, leaf, name);
      if (mkdirat(pfd, leaf, perm | 0700) < 0) die_errno(errno, "cannot create \"%.200s\"", name);
    }
  }
  close(pfd);
  if (X->ndirs == X->capdirs) {
    size_t cap = X->capdirs ? X->capdirs * 2 : 64;
    struct dirattr *d = realloc(X->dirs, cap * sizeof *d);
    if (!d) die(ERR_IO_ERROR, "out of memory");
    X->dirs = d;
    X->capdirs = cap;
  }
  struct dirattr *d = &X->dirs[X->ndirs++];
  d->name = strdup(name);
  if (!d->name) die(ERR_IO_ERROR, "out of memory");
  d->mode = perm;
  d->mtime = mtime;
  d->created = created;
  d->depth = 1;
  for (const char *c = name; *c; c++)
    if (*c == '/') d->depth++;
}

/* Refuses a symlink target that is absolute or, resolved lexically from the link's directory,
 * climbs above the root at any step. */
static void check_link_target(const struct extractor *X, const char *name, const char *target) {
  if (!target[0]) die(ERR_INVALID_ARCHIVE, "symlink \"%.200s\" has an empty target", name);
  if (target[0] == '/') die(ERR_INVALID_ARCHIVE, "symlink \"%.200s\" has an absolute target", name);
  long depth = X->xdepth;
  for (const char *c = name; *c; c++)
    if (*c == '/') depth++; /* depth of the link's directory below the root */
  const char *p = target;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (--depth < 0) die(ERR_INVALID_ARCHIVE, "symlink \"%.200s\" points outside the root", name);
    } else if (n > 0 && !(n == 1 && p[0] == '.')) {
      depth++;
    }
    if (!slash) break;
    p = slash + 1;
  }
}

static void extract_symlink(struct extractor *X, char *name, const char *target, int64_t mtime) {
  check_link_target(X, name, target);
  char *leaf;
  int pfd = open_parent(X, name, &leaf, true);
  replace_nondir(pfd, leaf, name);
  if (symlinkat(target, pfd, leaf) < 0) die_errno(errno, "cannot create symlink \"%.200s\"", name);
  struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = mtime}};
  utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW); /* best effort: some file systems refuse */
  close(pfd);
}

static int cmp_depth_desc(const void *a, const void *b) {
  const struct dirattr *x = a, *y = b;
  return (x->depth < y->depth) - (x->depth > y->depth);
}

/* Applies directory modes and mtimes last (creating entries inside would change the mtime, a
 * read-only mode would stop them), deepest first so a parent's mode cannot block its children. */
static void finish_dirs(struct extractor *X) {
  if (X->ndirs > 1) qsort(X->dirs, X->ndirs, sizeof *X->dirs, cmp_depth_desc);
  for (size_t i = 0; i < X->ndirs; i++) {
    struct dirattr *d = &X->dirs[i];
    char *leaf;
    int pfd = open_parent(X, d->name, &leaf, false);
    int fd = pfd < 0 ? -1 : openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = d->mtime}};
    bool ok = fd >= 0 && fchmod(fd, d->mode) == 0 && futimens(fd, ts) == 0;
    /* A directory that existed before (merged) may belong to someone else: best effort. */
    if (!ok && d->created) die_errno(errno, "cannot set the mode of \"%.200s\"", d->name);
    xclose(fd);
    xclose(pfd);
  }
}

int cmd_tar_extract(int argc, char **argv) {
  set_drain_stdin_on_exit(true);
  if (argc != 4) die(ERR_USAGE, "usage: fs tar-extract <root> <path> <maxBytes> <maxEntries>");
  static struct extractor X;
  char norm[PATH_LIMIT + 1];
  path_normalize(argv[1], norm, "path");
  X.max_bytes = parse_u64(argv[2], "maxBytes");
  X.max_entries = parse_u64(argv[3], "maxEntries");
  int rootfd = open_root(argv[0]);
  struct walk w;
  walk(rootfd, norm, W_FOLLOW | W_MKDIRS | W_MISSING_OK, &w);
  if (!w.exists) {
    if (mkdirat(w.dirfd, w.name, 0755) < 0 && errno != EEXIST) die_errno(errno, "cannot create \"%.200s\"", norm);
    walk_release(&w);
    walk(rootfd, norm, W_FOLLOW, &w);
  }
  if (!S_ISDIR(w.st.st_mode)) die(ERR_NOT_A_DIRECTORY, "\"%.200s\" is not a directory", norm);
  X.xfd = w.fd;
  X.xdepth = w.depth;

  struct meta m = {0};
  int metas = 0; /* consecutive metadata headers, bounded so they cannot stall us forever */
  unsigned char h[BLOCK];
  static char name[PATH_LIMIT + 1];
  char raw[PATH_LIMIT + 160];
  for (;;) {
    size_t got = in_read(h, BLOCK);
    if (got == 0) die(ERR_INVALID_ARCHIVE, "the archive ends without its end-of-archive blocks");
    if (got < BLOCK) die(ERR_INVALID_ARCHIVE, "the archive is truncated");
    if (all_zero(h, BLOCK)) {
      if (m.pending) die(ERR_INVALID_ARCHIVE, "a metadata header is not followed by an entry");
      got = in_read(h, BLOCK); /* the second zero block (or nothing) */
      if (!all_zero(h, got)) die(ERR_INVALID_ARCHIVE, "a lone zero block is followed by data");
      /* Writers pad archives to a record size (GNU tar: 10 KiB). Read what follows to EOF (up to
       * 16 MiB), so nothing is still in flight when we exit: the sender must not fail writing
       * padding to a process that already left, and some engines (Podman 4.3) drop a process's
       * output when input is in flight as it exits. */
      in.pos = in.len;
      static char sink[65536];
      for (uint64_t drained = 0; drained < 16 * 1024 * 1024;) {
        ssize_t r = read(0, sink, sizeof sink);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        drained += (uint64_t)r;
      }
      break;
    }

    int64_t chk;
    if (!parse_num(h + 148, 8, false, &chk)) die(ERR_INVALID_ARCHIVE, "a header checksum is malformed");
    unsigned usum = 0;
    int ssum = 0;
    for (size_t i = 0; i < BLOCK; i++) {
      unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
      usum += c;
      ssum += (signed char)c; /* some old writers summed signed chars */
    }
    if ((int64_t)usum != chk && (int64_t)ssum != chk) die(ERR_INVALID_ARCHIVE, "a header checksum does not match");
    bool posix = memcmp(h + 257, "ustar\0" "00", 8) == 0;
    bool gnu = memcmp(h + 257, "ustar  \0", 8) == 0;
    if (!posix && !gnu) die(ERR_INVALID_ARCHIVE, "a header is not in ustar format");

    int64_t hsize, hmode, hmtime;
    if (!parse_num(h + 124, 12, false, &hsize) || !parse_num(h + 100, 8, false, &hmode) ||
        !parse_num(h + 136, 12, true, &hmtime))
      die(ERR_INVALID_ARCHIVE, "a header has a malformed number");
    char type = (char)h[156];

    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (++metas > 16) die(ERR_INVALID_ARCHIVE, "too many metadata headers in a row");
      uint64_t cap = (type == 'x' || type == 'g') ? 1024 * 1024 : PATH_LIMIT + 1;
      if ((uint64_t)hsize > cap) die(ERR_INVALID_ARCHIVE, "a metadata header is too large");
      char *data = malloc((size_t)hsize + 1);
      if (!data) die(ERR_IO_ERROR, "out of memory");
      if (in_read(data, (size_t)hsize) != (size_t)hsize) die(ERR_INVALID_ARCHIVE, "the archive is truncated");
      in_skip(padding((uint64_t)hsize));
      data[hsize] = '\0';
      if (type == 'x' || type == 'g') {
        parse_pax(data, (size_t)hsize, &m, type == 'g');
        free(data);
      } else {
        data[strnlen(data, (size_t)hsize)] = '\0'; /* NUL-terminated name */
        char **slot = type == 'L' ? &m.long_name : &m.long_link;
        free(*slot);
        *slot = data;
      }
      if (type != 'g') m.pending++;
      continue;
    }
    metas = 0;

    if (++X.entries > X.max_entries)
      die(ERR_INVALID_ARCHIVE, "the archive has more than %llu entries", (unsigned long long)X.max_entries);

    /* The entry's name: PAX path, else GNU long name, else ustar prefix + name. */
    const char *rawname;
    size_t rawlen;
    if (m.path) {
      rawname = m.path;
      rawlen = strlen(m.path);
    } else if (m.long_name) {
      rawname = m.long_name;
      rawlen = strlen(m.long_name);
    } else {
      size_t nlen = strnlen((const char *)h, 100);
      size_t plen = posix ? strnlen((const char *)h + 345, 155) : 0;
      rawlen = 0;
      if (plen) {
        memcpy(raw, h + 345, plen);
        raw[plen] = '/';
        rawlen = plen + 1;
      }
      memcpy(raw + rawlen, h, nlen);
      rawlen += nlen;
      raw[rawlen] = '\0';
      rawname = raw;
    }
    bool trailing_slash;
    entry_name(rawname, rawlen, name, &trailing_slash);

    bool is_file = type == '0' || type == '\0' || type == '7';
    if (is_file && trailing_slash) type = '5', is_file = false; /* pre-POSIX directories */
    switch (type) {
    case '1':
      die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" is a hard link", name);
    case '3':
      die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" is a character device", name);
    case '4':
      die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" is a block device", name);
    case '6':
      die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" is a FIFO", name);
    case '2':
    case '5':
      break;
    default:
      if (!is_file) die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has the unsupported type '%c'", name, type);
    }
    if (!seen_add(name_hash(name))) die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" is a duplicate", name);
    if (hmode & 07000) die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has a setuid, setgid or sticky bit", name);
    mode_t perm = (mode_t)(hmode & 0777);
    uint64_t size = m.has_size ? m.size : (uint64_t)hsize;
    int64_t mtime = m.has_mtime ? m.mtime : hmtime;

    if (is_file) {
      extract_file(&X, name, perm, size, mtime);
    } else {
      if (size != 0) die(ERR_INVALID_ARCHIVE, "entry \"%.200s\" has data but is not a file", name);
      if (type == '5') {
        extract_dir(&X, name, perm, mtime);
      } else {
        char target[PATH_LIMIT + 1];
        const char *t = m.link ? m.link : m.long_link;
        if (!t) {
          size_t ln = strnlen((const char *)h + 157, 100);
          memcpy(target, h + 157, ln);
          target[ln] = '\0';
          t = target;
        } else if (strlen(t) > PATH_LIMIT) {
          die(ERR_INVALID_ARCHIVE, "symlink \"%.200s\" has a target longer than %d bytes", name, PATH_LIMIT);
        }
        extract_symlink(&X, name, t, mtime);
      }
    }
    meta_reset(&m);
  }
  finish_dirs(&X);
  return 0;
}

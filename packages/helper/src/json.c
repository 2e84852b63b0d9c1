/*
 * Output buffering and JSON string encoding.
 *
 * File names on Linux are arbitrary bytes, so the encoder validates UTF-8 itself: a well-formed
 * sequence is copied as is, every byte of a malformed one becomes \u00XX (the byte's value as a
 * code point). The output is therefore always valid JSON, at the price of such names not round
 * tripping through JSON (they do through tar).
 */
#include <stdio.h>
#include <string.h>

#include "common.h"

static char out_data[IO_CHUNK];
struct sink out = {.fd = 1, .data = out_data, .len = 0, .cap = sizeof out_data};

void sink_flush(struct sink *s) {
  if (s->fd >= 0 && s->len > 0) write_all(s->fd, s->data, s->len);
  s->len = 0;
}

void sink_put(struct sink *s, const void *p, size_t n) {
  const char *src = p;
  while (n > 0) {
    if (s->len == s->cap) {
      if (s->fd < 0) return; /* a message buffer: truncate */
      sink_flush(s);
    }
    size_t room = s->cap - s->len;
    size_t take = n < room ? n : room;
    memcpy(s->data + s->len, src, take);
    s->len += take;
    src += take;
    n -= take;
  }
}

void sink_str(struct sink *s, const char *str) { sink_put(s, str, strlen(str)); }

void sink_i64(struct sink *s, int64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
  sink_put(s, buf, (size_t)n);
}

/* Length of the well-formed UTF-8 sequence starting at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when it is malformed. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return len;
}

void json_string(struct sink *s, const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)str;
  sink_put(s, "\"", 1);
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t len = utf8_len(p + i, n - i);
      if (len) {
        sink_put(s, p + i, len);
        i += len;
        continue;
      }
    } else if (c >= 0x20 && c != '"' && c != '\\') {
      /* copy the run of plain ASCII in one call */
      size_t j = i + 1;
      while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\') j++;
      sink_put(s, p + i, j - i);
      i = j;
      continue;
    }
    char esc[6];
    size_t elen = 2;
    esc[0] = '\\';
    switch (c) {
    case '"':
      esc[1] = '"';
      break;
    case '\\':
      esc[1] = '\\';
      break;
    case '\n':
      esc[1] = 'n';
      break;
    case '\r':
      esc[1] = 'r';
      break;
    case '\t':
      esc[1] = 't';
      break;
    case '\b':
      esc[1] = 'b';
      break;
    case '\f':
      esc[1] = 'f';
      break;
    default: /* other control characters and malformed UTF-8 bytes */
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      elen = 6;
    }
    sink_put(s, esc, elen);
    i++;
  }
  sink_put(s, "\"", 1);
}

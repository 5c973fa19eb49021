/* The incremental, bounds-checked frame reader and the frame codec (see tw_frame.h). */
#include "tw_frame.h"

#include <stdlib.h>
#include <string.h>

void tw_frame_reader_init(tw_frame_reader *r, uint32_t max_frame) {
  memset(r, 0, sizeof *r);
  r->max_frame = max_frame;
}

void tw_frame_reader_free(tw_frame_reader *r) {
  free(r->buf);
  r->buf = NULL;
  r->buf_cap = 0;
  r->body = NULL;
  r->body_have = 0;
  r->hdr_have = 0;
  r->ready = 0;
}

int tw_frame_reader_mid_frame(const tw_frame_reader *r) {
  return r->hdr_have > 0 || r->ready;
}

tw_fr_result tw_frame_reader_feed(tw_frame_reader *r, const uint8_t *in, size_t in_len,
                                  size_t *consumed) {
  size_t used = 0;
  *consumed = 0;
  if (r->dead) return TW_FR_DEAD;
  if (r->ready) return TW_FR_FRAME;
  while (r->hdr_have < 4) {
    if (used == in_len) {
      *consumed = used;
      return TW_FR_NEED_MORE;
    }
    r->hdr[r->hdr_have++] = in[used++];
    if (r->hdr_have == 4) {
      r->declared_len = ((uint32_t)r->hdr[0] << 24) | ((uint32_t)r->hdr[1] << 16) |
                        ((uint32_t)r->hdr[2] << 8) | (uint32_t)r->hdr[3];
      /* The checks happen here, from the header alone: nothing is allocated for a bad length. */
      if (r->declared_len > r->max_frame) {
        r->dead = 1;
        *consumed = used;
        return TW_FR_TOO_LARGE;
      }
      if (r->declared_len == 0) {
        r->dead = 1;
        *consumed = used;
        return TW_FR_EMPTY;
      }
      r->body_have = 0;
    }
  }
  size_t avail = in_len - used;
  if (r->body_have == 0) {
    /* The whole body is in this input: hand it out where it is, no copy. */
    if (avail >= r->declared_len) {
      r->body = in + used;
      *consumed = used + r->declared_len;
      r->ready = 1;
      return TW_FR_FRAME;
    }
    if (avail == 0) { /* only the header so far: the next input may hold the whole body */
      *consumed = used;
      return TW_FR_NEED_MORE;
    }
    if (r->buf_cap < r->declared_len) { /* grow; the old contents are not needed */
      size_t cap = r->declared_len < 4096 ? 4096 : r->declared_len;
      free(r->buf);
      r->buf_cap = 0;
      r->buf = malloc(cap);
      if (r->buf == NULL) {
        r->dead = 1;
        *consumed = used;
        return TW_FR_NOMEM;
      }
      r->buf_cap = cap;
    }
  }
  size_t want = (size_t)r->declared_len - r->body_have;
  size_t n = avail < want ? avail : want;
  if (n > 0) memcpy(r->buf + r->body_have, in + used, n);
  r->body_have += n;
  used += n;
  *consumed = used;
  if (r->body_have == r->declared_len) {
    r->body = r->buf;
    r->ready = 1;
    return TW_FR_FRAME;
  }
  return TW_FR_NEED_MORE;
}

void tw_frame_reader_body(const tw_frame_reader *r, const uint8_t **body, uint32_t *len) {
  *body = r->ready ? r->body : NULL;
  *len = r->ready ? r->declared_len : 0;
}

void tw_frame_reader_next(tw_frame_reader *r) {
  r->body = NULL;
  r->body_have = 0;
  r->hdr_have = 0;
  r->declared_len = 0;
  r->ready = 0;
  if (r->buf_cap > TW_FR_KEEP_BYTES) { /* a large frame's buffer is not kept for the next */
    free(r->buf);
    r->buf = NULL;
    r->buf_cap = 0;
  }
}

uint8_t *tw_frame_encode(const Taskwire__V1__Frame *f, uint32_t max_frame, size_t *out_len) {
  size_t n = taskwire__v1__frame__get_packed_size(f);
  if (n > max_frame || n > UINT32_MAX) return NULL;
  uint8_t *buf = malloc(n + 4);
  if (buf == NULL) return NULL;
  buf[0] = (uint8_t)(n >> 24);
  buf[1] = (uint8_t)(n >> 16);
  buf[2] = (uint8_t)(n >> 8);
  buf[3] = (uint8_t)n;
  size_t packed = taskwire__v1__frame__pack(f, buf + 4);
  if (packed != n) {
    free(buf);
    return NULL;
  }
  *out_len = n + 4;
  return buf;
}

Taskwire__V1__Frame *tw_frame_decode(const uint8_t *body, size_t len) {
  return taskwire__v1__frame__unpack(NULL, len, body);
}

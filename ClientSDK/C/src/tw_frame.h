/*
 * Internal: the incremental, bounds-checked frame reader and the frame codec.
 *
 * A frame is a 4-byte big-endian length N followed by N bytes of one serialized taskwire.v1.Frame.
 * The reader rejects N over its limit from the header alone (before allocating anything) and
 * N == 0; it is pure (no I/O), so tests can feed it any byte sequence.
 */
#ifndef TW_FRAME_H
#define TW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "taskwire/v1/frame.pb-c.h"

typedef enum tw_fr_result {
  TW_FR_NEED_MORE = 0,   /* all input consumed, no complete frame yet */
  TW_FR_FRAME = 1,       /* a complete body is ready: take it with tw_frame_reader_take */
  TW_FR_TOO_LARGE = -1,  /* declared length over the limit (see declared_len); stream is dead */
  TW_FR_EMPTY = -2,      /* declared length 0; stream is dead */
  TW_FR_NOMEM = -3,      /* could not allocate the body */
  TW_FR_DEAD = -4        /* fed after an error */
} tw_fr_result;

typedef struct tw_frame_reader {
  uint32_t max_frame;    /* largest allowed body */
  uint8_t hdr[4];
  size_t hdr_have;
  uint32_t declared_len; /* valid once the header is complete */
  uint8_t *body;         /* allocated only after the header passed the checks */
  size_t body_have;
  int ready;             /* a complete body waits to be taken */
  int dead;
} tw_frame_reader;

void tw_frame_reader_init(tw_frame_reader *r, uint32_t max_frame);
void tw_frame_reader_free(tw_frame_reader *r);
/* Consumes bytes until one frame is complete or the input is used up. *consumed is how many bytes
 * of `in` were used (the rest belongs to the next frame). */
tw_fr_result tw_frame_reader_feed(tw_frame_reader *r, const uint8_t *in, size_t in_len,
                                  size_t *consumed);
/* Moves the completed body out (caller frees it) and resets for the next frame. */
void tw_frame_reader_take(tw_frame_reader *r, uint8_t **body, uint32_t *len);
/* 1 while a frame has started (some header or body bytes buffered). */
int tw_frame_reader_mid_frame(const tw_frame_reader *r);

/* Serializes `f` with its length prefix into a malloc'd buffer. Returns NULL when too large. */
uint8_t *tw_frame_encode(const Taskwire__V1__Frame *f, uint32_t max_frame, size_t *out_len);
/* Parses one body; NULL when the bytes are not a Frame. Free with
 * taskwire__v1__frame__free_unpacked(f, NULL). */
Taskwire__V1__Frame *tw_frame_decode(const uint8_t *body, size_t len);

#endif

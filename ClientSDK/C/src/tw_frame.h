/*
 * Internal: the incremental, bounds-checked frame reader and the frame codec.
 *
 * A frame is a 4-byte big-endian length N followed by N bytes of one serialized taskwire.v1.Frame.
 * The reader rejects N over its limit from the header alone (before allocating anything) and
 * N == 0; it is pure (no I/O), so tests can feed it any byte sequence.
 *
 * A body that is whole in the input of the feed that reaches it is not copied: the reader hands
 * out a pointer into that input. A body that arrives in pieces is gathered in the reader's own
 * buffer, which is reused from frame to frame (and freed after a frame over TW_FR_KEEP_BYTES, so
 * a connection does not keep a large frame's memory).
 */
#ifndef TW_FRAME_H
#define TW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "taskwire/v1/frame.pb-c.h"

/* The largest body buffer the reader keeps for the next frame. */
#define TW_FR_KEEP_BYTES (64u * 1024u)

typedef enum tw_fr_result {
  TW_FR_NEED_MORE = 0,   /* all input consumed, no complete frame yet */
  TW_FR_FRAME = 1,       /* a complete body is ready: see tw_frame_reader_body */
  TW_FR_TOO_LARGE = -1,  /* declared length over the limit (see declared_len); stream is dead */
  TW_FR_EMPTY = -2,      /* declared length 0; stream is dead */
  TW_FR_NOMEM = -3,      /* could not allocate the body buffer */
  TW_FR_DEAD = -4        /* fed after an error */
} tw_fr_result;

typedef struct tw_frame_reader {
  uint32_t max_frame;    /* largest allowed body */
  uint8_t hdr[4];
  size_t hdr_have;
  uint32_t declared_len; /* valid once the header is complete */
  uint8_t *buf;          /* gathers a body that arrives in pieces; allocated (or grown) only after
                            the header passed the checks */
  size_t buf_cap;
  size_t body_have;
  const uint8_t *body;   /* the ready body: into the completing feed's input, or buf */
  int ready;             /* a complete body waits (tw_frame_reader_body, then _next) */
  int dead;
} tw_frame_reader;

void tw_frame_reader_init(tw_frame_reader *r, uint32_t max_frame);
void tw_frame_reader_free(tw_frame_reader *r);
/* Consumes bytes until one frame is complete or the input is used up. *consumed is how many bytes
 * of `in` were used (the rest belongs to the next frame). While a frame is ready, feeding consumes
 * nothing and returns TW_FR_FRAME again. */
tw_fr_result tw_frame_reader_feed(tw_frame_reader *r, const uint8_t *in, size_t in_len,
                                  size_t *consumed);
/* The ready body, borrowed: it may point into the `in` of the feed that completed it, so it is
 * valid while that input is unchanged and until tw_frame_reader_next or _free. */
void tw_frame_reader_body(const tw_frame_reader *r, const uint8_t **body, uint32_t *len);
/* Done with the ready body: resets for the next frame (frees a buffer over TW_FR_KEEP_BYTES). */
void tw_frame_reader_next(tw_frame_reader *r);
/* 1 while a frame has started (some header or body bytes buffered). */
int tw_frame_reader_mid_frame(const tw_frame_reader *r);

/* Serializes `f` with its length prefix into a malloc'd buffer. Returns NULL when too large. */
uint8_t *tw_frame_encode(const Taskwire__V1__Frame *f, uint32_t max_frame, size_t *out_len);
/* Parses one body; NULL when the bytes are not a Frame. The Frame copies what it keeps (it never
 * points into `body`). Free with taskwire__v1__frame__free_unpacked(f, NULL). */
Taskwire__V1__Frame *tw_frame_decode(const uint8_t *body, size_t len);

#endif

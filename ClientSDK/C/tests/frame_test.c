/*
 * Unit test for the frame reader and codec, fed well-formed and malformed input: oversized
 * declared lengths, zero lengths, truncated frames, garbage bodies, byte-at-a-time and multi-frame
 * buffers, bodies handed out in place or gathered in the reused buffer, and a few thousand random
 * and mutated inputs. Run under valgrind by `make valgrind`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_frame.h"

#include "check.h"

/* The golden hello frame from docs/protocol.md, section 4.1. */
static const uint8_t golden[] = {
    0x00, 0x00, 0x00, 0x23, 0x12, 0x21, 0x08, 0x01, 0x12, 0x10, 0x74, 0x77, 0x5f,
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x5f, 0x74, 0x6f, 0x6b, 0x65, 0x6e,
    0x1a, 0x0b, 0x64, 0x6f, 0x63, 0x2d, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65};

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void check_golden_hello(const Taskwire__V1__Frame *f) {
  CHECK(f != NULL);
  if (f == NULL) return;
  CHECK(f->call_id == 0);
  CHECK(f->body_case == TASKWIRE__V1__FRAME__BODY_HELLO);
  if (f->body_case != TASKWIRE__V1__FRAME__BODY_HELLO) return;
  CHECK(f->hello->protocol_version == 1);
  CHECK(strcmp(f->hello->token, "tw_example_token") == 0);
  CHECK(strcmp(f->hello->client_name, "doc-example") == 0);
  CHECK(strcmp(f->hello->instance_id, "") == 0);
}

static void test_encode_golden(void) {
  Taskwire__V1__Hello hello = TASKWIRE__V1__HELLO__INIT;
  hello.protocol_version = 1;
  hello.token = "tw_example_token";
  hello.client_name = "doc-example";
  hello.instance_id = "";
  Taskwire__V1__Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_HELLO;
  f.hello = &hello;
  size_t len = 0;
  uint8_t *buf = tw_frame_encode(&f, 4u << 20, &len);
  CHECK(buf != NULL);
  CHECK(len == sizeof golden);
  if (buf && len == sizeof golden) CHECK(memcmp(buf, golden, len) == 0);
  free(buf);
  /* A frame larger than the limit is refused by the encoder. */
  CHECK(tw_frame_encode(&f, 10, &len) == NULL);
}

static void test_decode_whole(void) {
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  size_t used = 0;
  CHECK(tw_frame_reader_feed(&r, golden, sizeof golden, &used) == TW_FR_FRAME);
  CHECK(used == sizeof golden);
  const uint8_t *body = NULL;
  uint32_t len = 0;
  tw_frame_reader_body(&r, &body, &len);
  CHECK(len == 35);
  Taskwire__V1__Frame *f = tw_frame_decode(body, len);
  check_golden_hello(f);
  if (f) taskwire__v1__frame__free_unpacked(f, NULL);
  tw_frame_reader_next(&r);
  CHECK(!tw_frame_reader_mid_frame(&r));
  tw_frame_reader_free(&r);
}

static void test_byte_at_a_time(void) {
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  for (size_t i = 0; i < sizeof golden; i++) {
    size_t used = 0;
    tw_fr_result res = tw_frame_reader_feed(&r, golden + i, 1, &used);
    CHECK(used == 1);
    CHECK(res == (i + 1 == sizeof golden ? TW_FR_FRAME : TW_FR_NEED_MORE));
    if (i < sizeof golden - 1) CHECK(tw_frame_reader_mid_frame(&r));
  }
  const uint8_t *body = NULL;
  uint32_t len = 0;
  tw_frame_reader_body(&r, &body, &len);
  Taskwire__V1__Frame *f = tw_frame_decode(body, len);
  check_golden_hello(f);
  if (f) taskwire__v1__frame__free_unpacked(f, NULL);
  tw_frame_reader_next(&r);
  tw_frame_reader_free(&r);
}

static void test_several_frames_in_one_buffer(void) {
  uint8_t buf[3 * sizeof golden];
  memcpy(buf, golden, sizeof golden);
  memcpy(buf + sizeof golden, golden, sizeof golden);
  memcpy(buf + 2 * sizeof golden, golden, 10); /* a partial third */
  size_t total = 2 * sizeof golden + 10, off = 0;
  int frames = 0;
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  while (off < total) {
    size_t used = 0;
    tw_fr_result res = tw_frame_reader_feed(&r, buf + off, total - off, &used);
    off += used;
    if (res == TW_FR_FRAME) {
      const uint8_t *body = NULL;
      uint32_t len = 0;
      tw_frame_reader_body(&r, &body, &len);
      Taskwire__V1__Frame *f = tw_frame_decode(body, len);
      check_golden_hello(f);
      if (f) taskwire__v1__frame__free_unpacked(f, NULL);
      tw_frame_reader_next(&r);
      frames++;
    } else {
      CHECK(res == TW_FR_NEED_MORE);
    }
  }
  CHECK(frames == 2);
  CHECK(tw_frame_reader_mid_frame(&r)); /* the third is truncated */
  tw_frame_reader_free(&r);             /* and freeing it mid-frame leaks nothing */
}

static void test_oversized(void) {
  /* 4 GiB - 1 declared: rejected from the header alone, nothing allocated, extra bytes untouched. */
  const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x12, 0x00, 0x00};
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  size_t used = 0;
  CHECK(tw_frame_reader_feed(&r, huge, sizeof huge, &used) == TW_FR_TOO_LARGE);
  CHECK(used == 4);
  CHECK(r.buf == NULL);
  CHECK(r.declared_len == 0xffffffffu);
  CHECK(tw_frame_reader_feed(&r, huge, sizeof huge, &used) == TW_FR_DEAD);
  tw_frame_reader_free(&r);

  /* Exactly the limit + 1 is refused; exactly the limit is accepted. */
  const uint32_t limit = 4u << 20;
  uint8_t over[4] = {(uint8_t)((limit + 1) >> 24), (uint8_t)((limit + 1) >> 16),
                     (uint8_t)((limit + 1) >> 8), (uint8_t)(limit + 1)};
  tw_frame_reader_init(&r, limit);
  CHECK(tw_frame_reader_feed(&r, over, 4, &used) == TW_FR_TOO_LARGE);
  CHECK(r.buf == NULL);
  tw_frame_reader_free(&r);
  uint8_t at[4] = {(uint8_t)(limit >> 24), (uint8_t)(limit >> 16), (uint8_t)(limit >> 8),
                   (uint8_t)limit};
  tw_frame_reader_init(&r, limit);
  CHECK(tw_frame_reader_feed(&r, at, 4, &used) == TW_FR_NEED_MORE);
  CHECK(tw_frame_reader_mid_frame(&r));
  tw_frame_reader_free(&r);

  /* A small limit applies the same way (the header is split over two feeds). */
  const uint8_t forty[] = {0x00, 0x00, 0x00, 0x28};
  tw_frame_reader_init(&r, 39);
  CHECK(tw_frame_reader_feed(&r, forty, 2, &used) == TW_FR_NEED_MORE);
  CHECK(tw_frame_reader_feed(&r, forty + 2, 2, &used) == TW_FR_TOO_LARGE);
  tw_frame_reader_free(&r);
}

static void test_zero_length(void) {
  const uint8_t zero[] = {0, 0, 0, 0, 0x08, 0x01};
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  size_t used = 0;
  CHECK(tw_frame_reader_feed(&r, zero, sizeof zero, &used) == TW_FR_EMPTY);
  CHECK(used == 4);
  tw_frame_reader_free(&r);
}

static void test_truncated(void) {
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  size_t used = 0;
  /* Header only, then part of the body: never a frame. */
  CHECK(tw_frame_reader_feed(&r, golden, 3, &used) == TW_FR_NEED_MORE);
  CHECK(tw_frame_reader_feed(&r, golden + 3, 20, &used) == TW_FR_NEED_MORE);
  CHECK(used == 20);
  CHECK(tw_frame_reader_mid_frame(&r));
  tw_frame_reader_free(&r);

  /* A truncated body decoded anyway is refused by the decoder. */
  Taskwire__V1__Frame *f = tw_frame_decode(golden + 4, 20);
  CHECK(f == NULL);
}

static void test_garbage(void) {
  const uint8_t bad_bodies[][8] = {
      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* unterminated varint tag */
      {0x12, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* submessage longer than the frame */
      {0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* wire type 7 */
      {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* call_id varint runs off the end */
  };
  for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
    Taskwire__V1__Frame *f = tw_frame_decode(bad_bodies[i], sizeof bad_bodies[i]);
    CHECK(f == NULL);
    if (f) taskwire__v1__frame__free_unpacked(f, NULL);
  }
  /* A valid Frame with an unknown field only: parses, body not set (a newer peer's frame). */
  const uint8_t unknown[] = {0x08, 0x07, 0xf8, 0x3f, 0x01}; /* call_id 7, field 1023 = 1 */
  Taskwire__V1__Frame *f = tw_frame_decode(unknown, sizeof unknown);
  CHECK(f != NULL);
  if (f) {
    CHECK(f->call_id == 7);
    CHECK(f->body_case == TASKWIRE__V1__FRAME__BODY__NOT_SET);
    taskwire__v1__frame__free_unpacked(f, NULL);
  }
}

/* A body that is whole in one input is not copied: it points into that input, nothing allocated.
 * That holds too when the header came in an earlier input. */
static void test_zero_copy(void) {
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  size_t used = 0;
  CHECK(tw_frame_reader_feed(&r, golden, sizeof golden, &used) == TW_FR_FRAME);
  const uint8_t *body = NULL;
  uint32_t len = 0;
  tw_frame_reader_body(&r, &body, &len);
  CHECK(body == golden + 4);
  CHECK(len == sizeof golden - 4);
  CHECK(r.buf == NULL);
  /* Fed again while ready: nothing consumed, the same body. */
  CHECK(tw_frame_reader_feed(&r, golden, sizeof golden, &used) == TW_FR_FRAME);
  CHECK(used == 0);
  const uint8_t *again = NULL;
  tw_frame_reader_body(&r, &again, &len);
  CHECK(again == body);
  tw_frame_reader_next(&r);
  CHECK(!tw_frame_reader_mid_frame(&r));
  tw_frame_reader_body(&r, &body, &len);
  CHECK(body == NULL && len == 0);

  /* Header alone, then the whole body: still no copy. */
  uint8_t b[sizeof golden];
  memcpy(b, golden, sizeof b);
  CHECK(tw_frame_reader_feed(&r, b, 4, &used) == TW_FR_NEED_MORE);
  CHECK(used == 4);
  CHECK(tw_frame_reader_mid_frame(&r));
  CHECK(tw_frame_reader_feed(&r, b + 4, sizeof b - 4, &used) == TW_FR_FRAME);
  CHECK(used == sizeof b - 4);
  tw_frame_reader_body(&r, &body, &len);
  CHECK(body == b + 4);
  CHECK(r.buf == NULL);
  Taskwire__V1__Frame *f = tw_frame_decode(body, len);
  check_golden_hello(f);
  tw_frame_reader_next(&r);
  memset(b, 0, sizeof b); /* the Frame points into nothing of the input */
  check_golden_hello(f);
  if (f) taskwire__v1__frame__free_unpacked(f, NULL);
  tw_frame_reader_free(&r);
}

/* A body that arrives in pieces is gathered in the reader's buffer, which the next frame reuses. */
static void test_split_reuses_buffer(void) {
  tw_frame_reader r;
  tw_frame_reader_init(&r, 4u << 20);
  uint8_t *first_buf = NULL;
  for (int round = 0; round < 3; round++) {
    size_t used = 0;
    CHECK(tw_frame_reader_feed(&r, golden, 10, &used) == TW_FR_NEED_MORE);
    CHECK(used == 10);
    CHECK(tw_frame_reader_feed(&r, golden + 10, sizeof golden - 10, &used) == TW_FR_FRAME);
    CHECK(used == sizeof golden - 10);
    const uint8_t *body = NULL;
    uint32_t len = 0;
    tw_frame_reader_body(&r, &body, &len);
    CHECK(body == r.buf);
    CHECK(len == sizeof golden - 4);
    if (round == 0) first_buf = r.buf;
    CHECK(r.buf == first_buf);
    Taskwire__V1__Frame *f = tw_frame_decode(body, len);
    check_golden_hello(f);
    if (f) taskwire__v1__frame__free_unpacked(f, NULL);
    tw_frame_reader_next(&r);
    CHECK(r.buf == first_buf); /* small: kept */
  }
  tw_frame_reader_free(&r);
  CHECK(r.buf == NULL);
}

/* A frame over TW_FR_KEEP_BYTES that arrives in pieces: gathered whole, and its buffer is freed once
 * the frame is done; a frame at exactly the limit in pieces is accepted. */
static void test_large_split(void) {
  size_t payload_len = TW_FR_KEEP_BYTES + 1000;
  uint8_t *payload = malloc(payload_len);
  CHECK(payload != NULL);
  if (payload == NULL) return;
  for (size_t i = 0; i < payload_len; i++) payload[i] = (uint8_t)(i * 7);
  Taskwire__V1__TaskSpec spec = TASKWIRE__V1__TASK_SPEC__INIT;
  spec.type = "big";
  spec.payload.data = payload;
  spec.payload.len = payload_len;
  Taskwire__V1__SubmitRequest req = TASKWIRE__V1__SUBMIT_REQUEST__INIT;
  req.task = &spec;
  Taskwire__V1__Frame out = TASKWIRE__V1__FRAME__INIT;
  out.call_id = 9;
  out.body_case = TASKWIRE__V1__FRAME__BODY_SUBMIT_REQUEST;
  out.submit_request = &req;
  size_t n = 0;
  uint8_t *enc = tw_frame_encode(&out, 4u << 20, &n);
  CHECK(enc != NULL);
  if (enc == NULL) {
    free(payload);
    return;
  }
  tw_frame_reader r;
  tw_frame_reader_init(&r, (uint32_t)(n - 4)); /* exactly the limit */
  size_t off = 0;
  tw_fr_result res = TW_FR_NEED_MORE;
  while (off < n && res == TW_FR_NEED_MORE) { /* 16 KiB pieces, like TLS records */
    size_t chunk = n - off < 16384 ? n - off : 16384;
    size_t used = 0;
    res = tw_frame_reader_feed(&r, enc + off, chunk, &used);
    CHECK(used == chunk);
    off += used;
  }
  CHECK(res == TW_FR_FRAME);
  CHECK(off == n);
  const uint8_t *body = NULL;
  uint32_t len = 0;
  tw_frame_reader_body(&r, &body, &len);
  CHECK(body == r.buf);
  CHECK(len == n - 4);
  CHECK(r.buf_cap >= len);
  Taskwire__V1__Frame *f = tw_frame_decode(body, len);
  CHECK(f != NULL);
  if (f) {
    CHECK(f->call_id == 9);
    CHECK(f->body_case == TASKWIRE__V1__FRAME__BODY_SUBMIT_REQUEST);
    if (f->body_case == TASKWIRE__V1__FRAME__BODY_SUBMIT_REQUEST) {
      const Taskwire__V1__TaskSpec *t = f->submit_request->task;
      CHECK(t && t->payload.len == payload_len && memcmp(t->payload.data, payload, payload_len) == 0);
    }
    taskwire__v1__frame__free_unpacked(f, NULL);
  }
  tw_frame_reader_next(&r);
  CHECK(r.buf == NULL); /* not kept */
  CHECK(r.buf_cap == 0);
  tw_frame_reader_free(&r);
  free(enc);
  free(payload);
}

/* Random streams in random chunk sizes, and mutated golden frames: whatever happens, the reader and
 * decoder must neither crash, overrun nor leak (valgrind checks the last two). */
static void test_fuzz(void) {
  uint8_t buf[512];
  for (int iter = 0; iter < 5000; iter++) {
    size_t n = rnd() % sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rnd();
    /* Half of the time make the length plausible so the body is reached. */
    if (n >= 4 && (iter & 1)) {
      uint32_t len = (uint32_t)(rnd() % (n - 3));
      buf[0] = (uint8_t)(len >> 24);
      buf[1] = (uint8_t)(len >> 16);
      buf[2] = (uint8_t)(len >> 8);
      buf[3] = (uint8_t)len;
    }
    tw_frame_reader r;
    tw_frame_reader_init(&r, 256);
    size_t off = 0;
    while (off < n) {
      size_t chunk = 1 + rnd() % 64;
      if (chunk > n - off) chunk = n - off;
      size_t used = 0;
      tw_fr_result res = tw_frame_reader_feed(&r, buf + off, chunk, &used);
      CHECK(used <= chunk);
      off += used;
      if (res == TW_FR_FRAME) {
        const uint8_t *body = NULL;
        uint32_t len = 0;
        tw_frame_reader_body(&r, &body, &len);
        CHECK(len > 0 && len <= 256);
        Taskwire__V1__Frame *f = tw_frame_decode(body, len);
        if (f) taskwire__v1__frame__free_unpacked(f, NULL);
        tw_frame_reader_next(&r);
      } else if (res != TW_FR_NEED_MORE) {
        break;
      } else {
        CHECK(used == chunk);
      }
    }
    tw_frame_reader_free(&r);
  }
  for (int iter = 0; iter < 5000; iter++) {
    uint8_t m[sizeof golden];
    memcpy(m, golden, sizeof m);
    int flips = 1 + (int)(rnd() % 4);
    for (int k = 0; k < flips; k++) m[4 + rnd() % (sizeof m - 4)] = (uint8_t)rnd();
    Taskwire__V1__Frame *f = tw_frame_decode(m + 4, sizeof m - 4);
    if (f) taskwire__v1__frame__free_unpacked(f, NULL);
  }
}

int main(void) {
  test_encode_golden();
  test_decode_whole();
  test_byte_at_a_time();
  test_several_frames_in_one_buffer();
  test_oversized();
  test_zero_length();
  test_truncated();
  test_garbage();
  test_zero_copy();
  test_split_reuses_buffer();
  test_large_split();
  test_fuzz();
  if (failures) {
    fprintf(stderr, "frame_test: %d check(s) failed\n", failures);
    return 1;
  }
  printf("frame_test: all checks passed\n");
  return 0;
}

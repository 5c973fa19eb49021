/*
 * Socket and TLS I/O: writing frames, reading them through the bounded frame reader.
 * See docs/protocol.md for the framing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tw_client.h"

/* ---- socket and TLS I/O -------------------------------------------------------------------- */

void twi_ssl_error_text(char *buf, size_t len) {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed");
  } else {
    ERR_error_string_n(e, buf, len);
  }
  ERR_clear_error();
}

/* Waits until fd is readable/writable or the timeout runs out. 1 ready, 0 timeout, -1 error. */
int twi_wait_fd(int fd, short events, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = events};
  for (;;) {
    int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) return 0; /* let the caller look at its interrupt flag */
    if (r < 0) return -1;
    return r > 0 ? 1 : 0;
  }
}

void twi_mark_broken(tw_client *c) {
  c->broken = 1;
}

/* Writes all bytes. SIGPIPE is blocked for this thread during the write so a closed peer gives
 * EPIPE instead of killing the process. */
static int io_write_all(tw_client *c, const uint8_t *buf, size_t len, tw_status *st) {
  sigset_t pipe_set, old_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigpending(&pending);
  int pipe_was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

  int rc = 0;
  size_t off = 0;
  int64_t deadline = twi_mono_ms() + TW_WRITE_TIMEOUT_MS;
  while (off < len) {
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(c->ssl, buf + off, (int)(len - off));
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    int err = SSL_get_error(c->ssl, n);
    int64_t left = deadline - twi_mono_ms();
    if ((err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) && left > 0) {
      if (twi_wait_fd(c->fd, err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, (int)left) < 0) {
        rc = twi_set_status(st, TW_UNAVAILABLE, 1, "poll: %s", strerror(errno));
        break;
      }
      continue;
    }
    char msg[256];
    if (left <= 0) {
      snprintf(msg, sizeof msg, "write timed out");
    } else {
      twi_ssl_error_text(msg, sizeof msg);
    }
    rc = twi_set_status(st, TW_UNAVAILABLE, 1, "connection lost while writing: %s", msg);
    break;
  }

  if (!pipe_was_pending) {
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      struct timespec zero = {0, 0};
      sigtimedwait(&pipe_set, NULL, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, NULL);
  if (rc != 0) twi_mark_broken(c);
  else c->last_send_ms = twi_mono_ms();
  return rc;
}

/* Reads some bytes into rbuf. 1 = got bytes, 0 = timeout, -1 = error/EOF (status set). */
static int io_read_some(tw_client *c, int timeout_ms, tw_status *st) {
  int64_t deadline = twi_mono_ms() + timeout_ms;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(c->ssl, c->rbuf, (int)sizeof c->rbuf);
    if (n > 0) {
      c->rbuf_off = 0;
      c->rbuf_len = (size_t)n;
      return 1;
    }
    int err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      int64_t left = deadline - twi_mono_ms();
      if (left <= 0) return 0;
      int w = twi_wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, (int)left);
      if (w < 0) {
        twi_mark_broken(c);
        return twi_set_status(st, TW_UNAVAILABLE, 1, "poll: %s", strerror(errno));
      }
      if (w == 0) return 0;
      continue;
    }
    twi_mark_broken(c);
    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
      return twi_set_status(st, TW_UNAVAILABLE, 1, "connection closed by the server%s",
                        tw_frame_reader_mid_frame(&c->reader) ? " in the middle of a frame" : "");
    }
    char msg[256];
    twi_ssl_error_text(msg, sizeof msg);
    return twi_set_status(st, TW_UNAVAILABLE, 1, "connection lost while reading: %s", msg);
  }
}

int twi_send_frame(tw_client *c, const Frame *f, tw_status *st) {
  size_t len = 0;
  uint8_t *buf = tw_frame_encode(f, c->limits.max_frame_bytes, &len);
  if (buf == NULL) {
    size_t n = taskwire__v1__frame__get_packed_size(f);
    twi_set_status(st, TW_RESOURCE_EXHAUSTED, 1, "frame of %zu bytes exceeds max_frame (limit %u)", n,
               c->limits.max_frame_bytes);
    snprintf(st->limit_name, sizeof st->limit_name, "max_frame");
    st->limit_value = c->limits.max_frame_bytes;
    st->observed_value = n;
    return -1;
  }
  int rc = io_write_all(c, buf, len, st);
  free(buf);
  return rc;
}

/* Reads one frame. 1 = *out set, 0 = timeout, -1 = error (connection is then broken). */
int twi_read_frame(tw_client *c, int timeout_ms, Frame **out, tw_status *st) {
  int64_t deadline = twi_mono_ms() + timeout_ms;
  for (;;) {
    if (c->rbuf_off < c->rbuf_len) {
      size_t used = 0;
      tw_fr_result r = tw_frame_reader_feed(&c->reader, c->rbuf + c->rbuf_off,
                                            c->rbuf_len - c->rbuf_off, &used);
      c->rbuf_off += used;
      if (r == TW_FR_FRAME) {
        uint8_t *body = NULL;
        uint32_t len = 0;
        tw_frame_reader_take(&c->reader, &body, &len);
        Frame *f = tw_frame_decode(body, len);
        free(body);
        if (f == NULL) {
          twi_mark_broken(c);
          return twi_set_status(st, TW_INTERNAL, 1, "the server sent %u bytes that are not a Frame", len);
        }
        *out = f;
        return 1;
      }
      if (r == TW_FR_TOO_LARGE) {
        twi_mark_broken(c);
        twi_set_status(st, TW_RESOURCE_EXHAUSTED, 1,
                   "the server declared a frame of %u bytes, over max_frame (limit %u)",
                   c->reader.declared_len, c->reader.max_frame);
        snprintf(st->limit_name, sizeof st->limit_name, "max_frame");
        st->limit_value = c->reader.max_frame;
        st->observed_value = c->reader.declared_len;
        return -1;
      }
      if (r == TW_FR_EMPTY) {
        twi_mark_broken(c);
        return twi_set_status(st, TW_INTERNAL, 1, "the server sent an empty frame");
      }
      if (r == TW_FR_NOMEM || r == TW_FR_DEAD) {
        twi_mark_broken(c);
        return twi_set_status(st, TW_INTERNAL, 1, "out of memory reading a frame");
      }
      continue; /* NEED_MORE with input left cannot happen; loop to read more */
    }
    int64_t left = deadline - twi_mono_ms();
    if (left < 0) left = 0;
    int r = io_read_some(c, (int)left, st);
    if (r <= 0) return r;
  }
}

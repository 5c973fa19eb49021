/*
 * Socket and TLS I/O: the socket's BIOs, writing frames, reading them through the bounded frame
 * reader. See docs/protocol.md for the framing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tw_client.h"

/* ---- the socket's BIOs ----------------------------------------------------------------------- */

/* TLS writes go through this BIO rather than BIO_s_socket: send(2) with MSG_NOSIGNAL, so a peer
 * that closed gives EPIPE (an error return), never a SIGPIPE, and a write costs no syscall besides
 * the send. Where there is SO_NOSIGPIPE but no MSG_NOSIGNAL (macOS) the socket gets that instead
 * (untested there). Reads keep OpenSSL's own socket BIO: SSL_read tells a closed connection from
 * its end-of-file tracking. */
#if defined(MSG_NOSIGNAL)
#define TW_SEND_FLAGS MSG_NOSIGNAL
#elif defined(SO_NOSIGPIPE)
#define TW_SEND_FLAGS 0
#else
#error "neither MSG_NOSIGNAL nor SO_NOSIGPIPE: a closed peer would raise SIGPIPE"
#endif

static BIO_METHOD *send_method;
static pthread_once_t send_method_once = PTHREAD_ONCE_INIT;

/* Same semantics as BIO_s_socket's write: retry flags from the same errno test. */
static int send_bio_write(BIO *b, const char *buf, int len) {
  int fd = (int)(intptr_t)BIO_get_data(b);
  BIO_clear_retry_flags(b);
  ssize_t n = send(fd, buf, (size_t)len, TW_SEND_FLAGS);
  if (n < 0 && BIO_sock_should_retry(-1)) BIO_set_retry_write(b);
  return (int)n;
}

static long send_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  switch (cmd) {
    case BIO_C_GET_FD: { /* SSL_get_wfd */
      int fd = (int)(intptr_t)BIO_get_data(b);
      if (ptr != NULL) *(int *)ptr = fd;
      return fd;
    }
    case BIO_CTRL_FLUSH: /* nothing is buffered here */
      return 1;
    default:
      return 0;
  }
}

static void send_method_make(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                               "taskwire socket (send, MSG_NOSIGNAL)");
  if (m == NULL) return;
  if (BIO_meth_set_write(m, send_bio_write) != 1 || BIO_meth_set_ctrl(m, send_bio_ctrl) != 1) {
    BIO_meth_free(m);
    return;
  }
  send_method = m; /* made once per process, never freed */
}

int twi_ssl_attach_socket(tw_client *c, tw_status *st) {
  pthread_once(&send_method_once, send_method_make);
#if !defined(MSG_NOSIGNAL)
  int one = 1;
  if (setsockopt(c->fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) != 0)
    return twi_set_status(st, TW_INTERNAL, 1, "setsockopt(SO_NOSIGPIPE): %s", strerror(errno));
#endif
  BIO *rb = send_method ? BIO_new_socket(c->fd, BIO_NOCLOSE) : NULL;
  BIO *wb = send_method ? BIO_new(send_method) : NULL;
  if (rb == NULL || wb == NULL) {
    BIO_free(rb);
    BIO_free(wb);
    return twi_set_status(st, TW_INTERNAL, 1, "cannot make the socket BIOs");
  }
  BIO_set_data(wb, (void *)(intptr_t)c->fd);
  BIO_set_init(wb, 1);
  SSL_set_bio(c->ssl, rb, wb); /* the SSL owns both; the fd stays ours (tw_close closes it) */
  return 0;
}

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

/* Writes all bytes. The write BIO sends with MSG_NOSIGNAL (see above), so a closed peer is an
 * error here (EPIPE), never a SIGPIPE. */
static int io_write_all(tw_client *c, const uint8_t *buf, size_t len, tw_status *st) {
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
        /* The body is borrowed: usually it points into rbuf (the whole frame came in one read),
         * else into the reader's reused buffer. Decoded before the next read refills rbuf; the
         * Frame copies what it keeps. */
        const uint8_t *body = NULL;
        uint32_t len = 0;
        tw_frame_reader_body(&c->reader, &body, &len);
        Frame *f = tw_frame_decode(body, len);
        tw_frame_reader_next(&c->reader);
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

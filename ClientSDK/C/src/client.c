/*
 * The blocking Taskwire client: TLS connection, hello, calls, pushed frames.
 * See include/taskwire.h for the API and docs/protocol.md for the protocol.
 */
#define _GNU_SOURCE
#include "taskwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tw_client.h"


/* ---- small helpers ------------------------------------------------------------------------ */

int64_t tw_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *twi_dupstr(const char *s) {
  return strdup(s ? s : "");
}

/* protobuf-c wants non-const char* for string fields; it never writes through them when packing. */
char *twi_str(const char *s) {
  return (char *)(s ? s : "");
}

int twi_set_status(tw_status *st, int code, int local, const char *fmt, ...) {
  if (st == NULL) return -1;
  memset(st, 0, sizeof *st);
  st->code = code;
  st->local = local;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->message, sizeof st->message, fmt, ap);
  va_end(ap);
  return -1;
}

void twi_status_ok(tw_status *st) {
  if (st == NULL) return;
  memset(st, 0, sizeof *st);
}

void twi_status_from_proto(tw_status *st, const Taskwire__V1__Status *s) {
  if (st == NULL) return;
  memset(st, 0, sizeof *st);
  if (s == NULL) {
    st->code = TW_INTERNAL;
    snprintf(st->message, sizeof st->message, "error frame without a status");
    return;
  }
  st->code = (int)s->code;
  snprintf(st->message, sizeof st->message, "%s", s->message ? s->message : "");
  snprintf(st->limit_name, sizeof st->limit_name, "%s", s->limit_name ? s->limit_name : "");
  st->limit_value = s->limit_value;
  st->observed_value = s->observed_value;
  st->resume_from = s->resume_from;
  st->snapshot_required = s->snapshot_required ? 1 : 0;
}

static void ssl_error_text(char *buf, size_t len) {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed");
  } else {
    ERR_error_string_n(e, buf, len);
  }
  ERR_clear_error();
}

const char *tw_code_name(int code) {
  static const char *names[] = {"OK",
                                "CANCELLED",
                                "INVALID_ARGUMENT",
                                "NOT_FOUND",
                                "ALREADY_EXISTS",
                                "CONFLICT",
                                "FAILED_PRECONDITION",
                                "LEASE_LOST",
                                "RESOURCE_EXHAUSTED",
                                "UNAUTHENTICATED",
                                "PERMISSION_DENIED",
                                "DEADLINE_EXCEEDED",
                                "UNAVAILABLE",
                                "INTERNAL"};
  if (code < 0 || code >= (int)(sizeof names / sizeof names[0])) return "UNKNOWN";
  return names[code];
}

int tw_status_retryable(const tw_status *st) {
  switch (st->code) {
    case TW_RESOURCE_EXHAUSTED:
      return strcmp(st->limit_name, "max_frame") != 0 && strcmp(st->limit_name, "max_payload") != 0;
    case TW_DEADLINE_EXCEEDED:
    case TW_UNAVAILABLE:
      return 1;
    default:
      return 0;
  }
}

const char *tw_role_name(int role) {
  switch (role) {
    case TW_ROLE_CLIENT: return "client";
    case TW_ROLE_WORKER: return "worker";
    case TW_ROLE_ADMIN: return "admin";
    default: return "unspecified";
  }
}

const char *tw_state_name(int state) {
  static const char *names[] = {"UNSPECIFIED", "PENDING", "SCHEDULED", "RUNNING",
                                "RETRYING", "SUCCEEDED", "FAILED", "CANCELLED"};
  if (state < 0 || state >= (int)(sizeof names / sizeof names[0])) return "UNKNOWN";
  return names[state];
}

int tw_state_is_terminal(int state) {
  return state == TW_STATE_SUCCEEDED || state == TW_STATE_FAILED || state == TW_STATE_CANCELLED;
}

const char *tw_event_kind_name(int kind) {
  static const char *names[] = {"UNSPECIFIED", "SNAPSHOT", "CREATED", "STATE_CHANGED", "PROGRESS",
                                "RETRY_SCHEDULED", "CANCEL_REQUESTED", "FINISHED", "DELETED"};
  if (kind < 0 || kind >= (int)(sizeof names / sizeof names[0])) return "UNKNOWN";
  return names[kind];
}

/* ---- socket and TLS I/O -------------------------------------------------------------------- */

/* Waits until fd is readable/writable or the timeout runs out. 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = events};
  for (;;) {
    int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) return 0; /* let the caller look at its interrupt flag */
    if (r < 0) return -1;
    return r > 0 ? 1 : 0;
  }
}

static void mark_broken(tw_client *c) {
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
  int64_t deadline = mono_ms() + TW_WRITE_TIMEOUT_MS;
  while (off < len) {
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(c->ssl, buf + off, (int)(len - off));
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    int err = SSL_get_error(c->ssl, n);
    int64_t left = deadline - mono_ms();
    if ((err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) && left > 0) {
      if (wait_fd(c->fd, err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, (int)left) < 0) {
        rc = twi_set_status(st, TW_UNAVAILABLE, 1, "poll: %s", strerror(errno));
        break;
      }
      continue;
    }
    char msg[256];
    if (left <= 0) {
      snprintf(msg, sizeof msg, "write timed out");
    } else {
      ssl_error_text(msg, sizeof msg);
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
  if (rc != 0) mark_broken(c);
  else c->last_send_ms = mono_ms();
  return rc;
}

/* Reads some bytes into rbuf. 1 = got bytes, 0 = timeout, -1 = error/EOF (status set). */
static int io_read_some(tw_client *c, int timeout_ms, tw_status *st) {
  int64_t deadline = mono_ms() + timeout_ms;
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
      int64_t left = deadline - mono_ms();
      if (left <= 0) return 0;
      int w = wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, (int)left);
      if (w < 0) {
        mark_broken(c);
        return twi_set_status(st, TW_UNAVAILABLE, 1, "poll: %s", strerror(errno));
      }
      if (w == 0) return 0;
      continue;
    }
    mark_broken(c);
    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
      return twi_set_status(st, TW_UNAVAILABLE, 1, "connection closed by the server%s",
                        tw_frame_reader_mid_frame(&c->reader) ? " in the middle of a frame" : "");
    }
    char msg[256];
    ssl_error_text(msg, sizeof msg);
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
static int read_frame(tw_client *c, int timeout_ms, Frame **out, tw_status *st) {
  int64_t deadline = mono_ms() + timeout_ms;
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
          mark_broken(c);
          return twi_set_status(st, TW_INTERNAL, 1, "the server sent %u bytes that are not a Frame", len);
        }
        *out = f;
        return 1;
      }
      if (r == TW_FR_TOO_LARGE) {
        mark_broken(c);
        twi_set_status(st, TW_RESOURCE_EXHAUSTED, 1,
                   "the server declared a frame of %u bytes, over max_frame (limit %u)",
                   c->reader.declared_len, c->reader.max_frame);
        snprintf(st->limit_name, sizeof st->limit_name, "max_frame");
        st->limit_value = c->reader.max_frame;
        st->observed_value = c->reader.declared_len;
        return -1;
      }
      if (r == TW_FR_EMPTY) {
        mark_broken(c);
        return twi_set_status(st, TW_INTERNAL, 1, "the server sent an empty frame");
      }
      if (r == TW_FR_NOMEM || r == TW_FR_DEAD) {
        mark_broken(c);
        return twi_set_status(st, TW_INTERNAL, 1, "out of memory reading a frame");
      }
      continue; /* NEED_MORE with input left cannot happen; loop to read more */
    }
    int64_t left = deadline - mono_ms();
    if (left < 0) left = 0;
    int r = io_read_some(c, (int)left, st);
    if (r <= 0) return r;
  }
}

/* ---- pushed frames ------------------------------------------------------------------------ */

static void record_notice(tw_client *c, const Taskwire__V1__CancelNotice *n) {
  if (n == NULL) return;
  if (c->notice_count == TW_MAX_NOTICES) { /* bounded: drop the oldest */
    tw_cancel_notice_clear(&c->notices[c->notice_head]);
    c->notice_head = (c->notice_head + 1) % TW_MAX_NOTICES;
    c->notice_count--;
  }
  tw_cancel_notice *slot = &c->notices[(c->notice_head + c->notice_count) % TW_MAX_NOTICES];
  slot->task_id = twi_dupstr(n->task_id);
  slot->lease_token = twi_dupstr(n->lease_token);
  slot->reason = twi_dupstr(n->reason);
  c->notice_count++;
}

/* Handles a call_id 0 frame. Returns 0, or -1 for a connection error (status set). */
static int handle_push(tw_client *c, const Frame *f, tw_status *st) {
  switch (f->body_case) {
    case TASKWIRE__V1__FRAME__BODY_PING: {
      Taskwire__V1__Pong pong = TASKWIRE__V1__PONG__INIT;
      pong.nonce = f->ping ? f->ping->nonce : 0;
      Frame out = TASKWIRE__V1__FRAME__INIT;
      out.call_id = 0;
      out.body_case = TASKWIRE__V1__FRAME__BODY_PONG;
      out.pong = &pong;
      return twi_send_frame(c, &out, st);
    }
    case TASKWIRE__V1__FRAME__BODY_CANCEL_NOTICE:
      record_notice(c, f->cancel_notice);
      return 0;
    case TASKWIRE__V1__FRAME__BODY_GO_AWAY:
      c->going_away = 1;
      return 0;
    case TASKWIRE__V1__FRAME__BODY_ERROR:
      twi_status_from_proto(st, f->error);
      mark_broken(c);
      return -1;
    default:
      return 0; /* pongs and frames of newer servers: ignored */
  }
}

int twi_send_cancel_call(tw_client *c, uint64_t call_id, tw_status *st) {
  Taskwire__V1__CancelCall cc = TASKWIRE__V1__CANCEL_CALL__INIT;
  Frame out = TASKWIRE__V1__FRAME__INIT;
  out.call_id = call_id;
  out.body_case = TASKWIRE__V1__FRAME__BODY_CANCEL_CALL;
  out.cancel_call = &cc;
  return twi_send_frame(c, &out, st);
}

static int send_ping(tw_client *c, uint64_t nonce, tw_status *st) {
  Taskwire__V1__Ping ping = TASKWIRE__V1__PING__INIT;
  ping.nonce = nonce;
  Frame out = TASKWIRE__V1__FRAME__INIT;
  out.call_id = 0;
  out.body_case = TASKWIRE__V1__FRAME__BODY_PING;
  out.ping = &ping;
  return twi_send_frame(c, &out, st);
}

/* Waits for the next frame of call `call_id`, handling pushed frames meanwhile. Sends a ping when
 * idle for ping_interval_ms and a CancelCall (once, tracked in *cancel_sent) when the interrupt flag
 * is set. 0 = *out set, -1 = error. */
int twi_wait_call_frame(tw_client *c, uint64_t call_id, int interruptible, int *cancel_sent,
                           Frame **out, tw_status *st) {
  for (;;) {
    if (interruptible && c->interrupt_flag && *c->interrupt_flag && !*cancel_sent) {
      if (twi_send_cancel_call(c, call_id, st) != 0) return -1;
      *cancel_sent = 1;
    }
    if (mono_ms() - c->last_send_ms >= c->ping_interval_ms) {
      if (send_ping(c, ++c->next_nonce, st) != 0) return -1;
    }
    Frame *f = NULL;
    int r = read_frame(c, TW_WAIT_TICK_MS, &f, st);
    if (r < 0) return -1;
    if (r == 0) continue;
    if (f->call_id == 0) {
      int h = handle_push(c, f, st);
      taskwire__v1__frame__free_unpacked(f, NULL);
      if (h != 0) return -1;
      continue;
    }
    if (f->call_id != call_id) { /* a late frame of a call we gave up on: ignore */
      taskwire__v1__frame__free_unpacked(f, NULL);
      continue;
    }
    *out = f;
    return 0;
  }
}

int twi_check_usable(tw_client *c, tw_status *st) {
  if (c == NULL) return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "no client");
  if (c->broken) return twi_set_status(st, TW_UNAVAILABLE, 1, "the connection is closed");
  if (c->going_away)
    return twi_set_status(st, TW_UNAVAILABLE, 1, "the server is going away; reconnect");
  return 0;
}

/* Sends `req` (its body set, call_id assigned here) and waits for the one answer. On success *resp
 * holds a frame whose body is `expected`; an error frame becomes -1 with its status. Only
 * interruptible calls (long polls) are cancelled by the interrupt flag; a complete or release made
 * while shutting down must run to its end. */
int twi_call_ex(tw_client *c, Frame *req, Taskwire__V1__Frame__BodyCase expected,
                   int interruptible, Frame **resp, tw_status *st) {
  if (twi_check_usable(c, st) != 0) return -1;
  req->call_id = c->next_call_id++;
  if (twi_send_frame(c, req, st) != 0) return -1;
  int cancel_sent = 0;
  Frame *f = NULL;
  if (twi_wait_call_frame(c, req->call_id, interruptible, &cancel_sent, &f, st) != 0) return -1;
  if (f->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) {
    twi_status_from_proto(st, f->error);
    taskwire__v1__frame__free_unpacked(f, NULL);
    return -1;
  }
  if (f->body_case != expected) {
    int got = (int)f->body_case;
    taskwire__v1__frame__free_unpacked(f, NULL);
    return twi_set_status(st, TW_INTERNAL, 1, "unexpected answer (body field %d, wanted %d)", got,
                      (int)expected);
  }
  twi_status_ok(st);
  *resp = f;
  return 0;
}

int twi_unary_call(tw_client *c, Frame *req, Taskwire__V1__Frame__BodyCase expected, Frame **resp,
                      tw_status *st) {
  return twi_call_ex(c, req, expected, 0, resp, st);
}

/* ---- connect ------------------------------------------------------------------------------ */

static int split_address(const char *addr, char *host, size_t hl, char *port, size_t pl) {
  if (addr == NULL || *addr == '\0') return -1;
  if (addr[0] == '[') {
    const char *end = strchr(addr, ']');
    if (end == NULL || end[1] != ':') return -1;
    size_t n = (size_t)(end - addr - 1);
    if (n == 0 || n >= hl) return -1;
    memcpy(host, addr + 1, n);
    host[n] = '\0';
    snprintf(port, pl, "%s", end + 2);
  } else {
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) return -1;
    size_t n = (size_t)(colon - addr);
    if (n == 0 || n >= hl) return -1;
    memcpy(host, addr, n);
    host[n] = '\0';
    snprintf(port, pl, "%s", colon + 1);
  }
  return *port ? 0 : -1;
}

static int tcp_connect(const char *host, const char *port, int64_t deadline, tw_status *st) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0) {
    twi_set_status(st, TW_UNAVAILABLE, 1, "cannot resolve %s:%s: %s", host, port, gai_strerror(gai));
    return -1;
  }
  int fd = -1;
  char last_err[128] = "no address";
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      int64_t left = deadline - mono_ms();
      if (left > 0 && wait_fd(fd, POLLOUT, (int)left) == 1) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr == 0) r = 0;
        else errno = soerr;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (r == 0) break;
    snprintf(last_err, sizeof last_err, "%s", strerror(errno));
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) twi_set_status(st, TW_UNAVAILABLE, 1, "cannot connect to %s:%s: %s", host, port, last_err);
  return fd;
}

static int tls_setup(tw_client *c, const tw_options *o, const char *host, int64_t deadline,
                     tw_status *st) {
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (c->ctx == NULL) return twi_set_status(st, TW_INTERNAL, 1, "SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(c->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1) {
    char msg[256];
    ssl_error_text(msg, sizeof msg);
    return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "cannot load CA file %s: %s", o->ca_file, msg);
  }
  SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
  if (o->cert_file && *o->cert_file) {
    const char *key = (o->key_file && *o->key_file) ? o->key_file : o->cert_file;
    if (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ctx) != 1) {
      char msg[256];
      ssl_error_text(msg, sizeof msg);
      return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "cannot load client certificate %s: %s",
                        o->cert_file, msg);
    }
  }
  c->ssl = SSL_new(c->ctx);
  if (c->ssl == NULL) return twi_set_status(st, TW_INTERNAL, 1, "SSL_new failed");
  SSL_set_fd(c->ssl, c->fd);

  /* Verify the certificate for the host we connect to: an IP literal or a DNS name. */
  X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
  unsigned char ipbuf[16];
  int is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
      return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "bad IP address %s", host);
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
      return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "bad host name %s", host);
    SSL_set_tlsext_host_name(c->ssl, host);
  }

  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_connect(c->ssl);
    if (r == 1) break;
    int err = SSL_get_error(c->ssl, r);
    int64_t left = deadline - mono_ms();
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && left > 0) {
      wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, (int)left);
      continue;
    }
    if (left <= 0) return twi_set_status(st, TW_DEADLINE_EXCEEDED, 1, "TLS handshake timed out");
    long vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK) {
      return twi_set_status(st, TW_UNAVAILABLE, 1, "server certificate rejected: %s",
                        X509_verify_cert_error_string(vr));
    }
    char msg[256];
    ssl_error_text(msg, sizeof msg);
    return twi_set_status(st, TW_UNAVAILABLE, 1, "TLS handshake failed: %s", msg);
  }
  return 0;
}

static int do_hello(tw_client *c, const tw_options *o, int64_t deadline, tw_status *st) {
  Taskwire__V1__Hello hello = TASKWIRE__V1__HELLO__INIT;
  hello.protocol_version = 1;
  hello.token = twi_str(o->token);
  hello.client_name = twi_str(o->client_name ? o->client_name : "taskwire-c");
  hello.instance_id = twi_str(o->instance_id);
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.call_id = 0;
  f.body_case = TASKWIRE__V1__FRAME__BODY_HELLO;
  f.hello = &hello;
  if (twi_send_frame(c, &f, st) != 0) return -1;
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) return twi_set_status(st, TW_DEADLINE_EXCEEDED, 1, "no hello reply in time");
    Frame *r = NULL;
    int rr = read_frame(c, (int)left, &r, st);
    if (rr < 0) return -1;
    if (rr == 0) continue;
    if (r->call_id == 0 && r->body_case == TASKWIRE__V1__FRAME__BODY_HELLO_REPLY) {
      Taskwire__V1__HelloReply *h = r->hello_reply;
      c->role = (int)h->role;
      c->server_version = twi_dupstr(h->server_version);
      c->connection_id = twi_dupstr(h->connection_id);
      if (h->limits) {
        if (h->limits->max_frame_bytes) c->limits.max_frame_bytes = h->limits->max_frame_bytes;
        c->limits.max_payload_bytes = h->limits->max_payload_bytes;
        c->limits.max_concurrent_calls = h->limits->max_concurrent_calls;
        c->limits.heartbeat_interval_ms = h->limits->heartbeat_interval_ms;
        c->limits.idle_timeout_ms = h->limits->idle_timeout_ms;
      }
      c->reader.max_frame = c->limits.max_frame_bytes;
      taskwire__v1__frame__free_unpacked(r, NULL);
      return 0;
    }
    if (r->call_id == 0 && r->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) {
      twi_status_from_proto(st, r->error);
      taskwire__v1__frame__free_unpacked(r, NULL);
      mark_broken(c);
      return -1;
    }
    int h = r->call_id == 0 ? handle_push(c, r, st) : 0;
    taskwire__v1__frame__free_unpacked(r, NULL);
    if (h != 0) return -1;
  }
}

tw_client *tw_connect(const tw_options *o, tw_status *st) {
  if (o == NULL || o->address == NULL || o->ca_file == NULL || o->token == NULL) {
    twi_set_status(st, TW_INVALID_ARGUMENT, 1, "address, ca_file and token are required");
    return NULL;
  }
  char host[256], port[32];
  if (split_address(o->address, host, sizeof host, port, sizeof port) != 0) {
    twi_set_status(st, TW_INVALID_ARGUMENT, 1, "bad address '%s' (want host:port or [v6]:port)",
               o->address);
    return NULL;
  }
  tw_client *c = calloc(1, sizeof *c);
  if (c == NULL) {
    twi_set_status(st, TW_INTERNAL, 1, "out of memory");
    return NULL;
  }
  c->fd = -1;
  c->next_call_id = 1;
  c->limits.max_frame_bytes = TW_DEFAULT_MAX_FRAME_BYTES;
  c->ping_interval_ms = o->ping_interval_ms > 0 ? o->ping_interval_ms : 100000;
  c->interrupt_flag = o->interrupt_flag;
  tw_frame_reader_init(&c->reader, TW_DEFAULT_MAX_FRAME_BYTES);
  int64_t deadline = mono_ms() + (o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000);
  c->fd = tcp_connect(host, port, deadline, st);
  if (c->fd < 0 || tls_setup(c, o, host, deadline, st) != 0 || do_hello(c, o, deadline, st) != 0) {
    tw_close(c);
    return NULL;
  }
  twi_status_ok(st);
  return c;
}

void tw_close(tw_client *c) {
  if (c == NULL) return;
  if (c->ssl) {
    if (!c->broken) {
      /* Best effort close_notify; never block on it. */
      sigset_t pipe_set, old_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
      SSL_shutdown(c->ssl);
      pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    }
    SSL_free(c->ssl);
  }
  if (c->ctx) SSL_CTX_free(c->ctx);
  if (c->fd >= 0) close(c->fd);
  tw_frame_reader_free(&c->reader);
  while (c->notice_count > 0) {
    tw_cancel_notice_clear(&c->notices[c->notice_head]);
    c->notice_head = (c->notice_head + 1) % TW_MAX_NOTICES;
    c->notice_count--;
  }
  free(c->server_version);
  free(c->connection_id);
  free(c);
}

int tw_client_role(const tw_client *c) { return c->role; }
const tw_limits *tw_client_limits(const tw_client *c) { return &c->limits; }
const char *tw_client_server_version(const tw_client *c) { return c->server_version; }
const char *tw_client_connection_id(const tw_client *c) { return c->connection_id; }
int tw_client_going_away(const tw_client *c) { return c->going_away; }

/* ---- pings, polling, notices ----------------------------------------------------------------- */

int tw_ping(tw_client *c, tw_status *st) {
  if (twi_check_usable(c, st) != 0) return -1;
  uint64_t nonce = ++c->next_nonce;
  if (send_ping(c, nonce, st) != 0) return -1;
  int64_t deadline = mono_ms() + 30000;
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) return twi_set_status(st, TW_DEADLINE_EXCEEDED, 1, "no pong within 30 s");
    Frame *f = NULL;
    int r = read_frame(c, (int)left, &f, st);
    if (r < 0) return -1;
    if (r == 0) continue;
    int done = f->call_id == 0 && f->body_case == TASKWIRE__V1__FRAME__BODY_PONG && f->pong &&
               f->pong->nonce == nonce;
    int h = f->call_id == 0 ? handle_push(c, f, st) : 0;
    taskwire__v1__frame__free_unpacked(f, NULL);
    if (h != 0) return -1;
    if (done) {
      twi_status_ok(st);
      return 0;
    }
  }
}

int tw_poll(tw_client *c, int timeout_ms, tw_status *st) {
  if (c == NULL || c->broken) return twi_set_status(st, TW_UNAVAILABLE, 1, "the connection is closed");
  int64_t deadline = mono_ms() + timeout_ms;
  for (;;) {
    if (mono_ms() - c->last_send_ms >= c->ping_interval_ms) {
      if (send_ping(c, ++c->next_nonce, st) != 0) return -1;
    }
    int64_t left = deadline - mono_ms();
    if (left <= 0) break;
    if (c->interrupt_flag && *c->interrupt_flag) break;
    Frame *f = NULL;
    int r = read_frame(c, (int)(left < TW_WAIT_TICK_MS ? left : TW_WAIT_TICK_MS), &f, st);
    if (r < 0) return -1;
    if (r == 0) continue;
    int h = f->call_id == 0 ? handle_push(c, f, st) : 0;
    taskwire__v1__frame__free_unpacked(f, NULL);
    if (h != 0) return -1;
  }
  twi_status_ok(st);
  return 0;
}

int tw_next_cancel_notice(tw_client *c, tw_cancel_notice *out) {
  if (c == NULL || c->notice_count == 0) return 0;
  *out = c->notices[c->notice_head];
  memset(&c->notices[c->notice_head], 0, sizeof c->notices[0]);
  c->notice_head = (c->notice_head + 1) % TW_MAX_NOTICES;
  c->notice_count--;
  return 1;
}

int tw_cancel_noticed(const tw_client *c, const char *task_id) {
  for (size_t i = 0; i < c->notice_count; i++) {
    const tw_cancel_notice *n = &c->notices[(c->notice_head + i) % TW_MAX_NOTICES];
    if (n->task_id && strcmp(n->task_id, task_id) == 0) return 1;
  }
  return 0;
}

void tw_cancel_notice_clear(tw_cancel_notice *n) {
  if (n == NULL) return;
  free(n->task_id);
  free(n->lease_token);
  free(n->reason);
  memset(n, 0, sizeof *n);
}

/*
 * Internal: the client's state and the helpers its files share: client.c (connection, TLS, hello),
 * io.c (frame I/O), push.c (pushed frames, ping, poll), callmachine.c (sending a call, waiting for
 * its answer), status.c (statuses, names, time, strings) and calls.c (the API calls built on them).
 * Not installed; the API is include/taskwire.h.
 */
#ifndef TW_CLIENT_H
#define TW_CLIENT_H

#include <signal.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "taskwire.h"
#include "tw_frame.h"

#define TW_MAX_NOTICES 1024
#define TW_WAIT_TICK_MS 250
#define TW_WRITE_TIMEOUT_MS 30000

typedef Taskwire__V1__Frame Frame;

struct tw_client {
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
  tw_frame_reader reader;
  uint8_t rbuf[16384];        /* what SSL_read gave; the frame reader's bodies may point into it */
  size_t rbuf_off, rbuf_len;
  uint64_t next_call_id;
  uint64_t next_nonce;
  tw_limits limits;
  int role;
  char *server_version;
  char *connection_id;
  int going_away;
  int broken;
  int64_t last_send_ms;
  int ping_interval_ms;
  volatile sig_atomic_t *interrupt_flag;
  tw_cancel_notice notices[TW_MAX_NOTICES];
  size_t notice_head, notice_count;
};

/* status.c */
/* CLOCK_MONOTONIC in milliseconds, for deadlines and the ping interval. */
int64_t twi_mono_ms(void);
/* A copy of `s` ("" for NULL); the caller frees it. */
char *twi_dupstr(const char *s);
/* protobuf-c wants non-const char* for string fields; it never writes through them when packing. */
char *twi_str(const char *s);
/* Fills `st` (when not NULL) and returns -1. */
int twi_set_status(tw_status *st, int code, int local, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void twi_status_ok(tw_status *st);
void twi_status_from_proto(tw_status *st, const Taskwire__V1__Status *s);

/* io.c */
/* Gives c->ssl its BIOs on c->fd: OpenSSL's socket BIO for reading, and for writing one that sends
 * with MSG_NOSIGNAL (a closed peer is an error return, never a SIGPIPE). -1 with a status. */
int twi_ssl_attach_socket(tw_client *c, tw_status *st);
/* OpenSSL's queued error (or errno) as text into `buf`; clears the queue. */
void twi_ssl_error_text(char *buf, size_t len);
/* Waits until fd is readable/writable or the timeout runs out. 1 ready, 0 timeout, -1 error. */
int twi_wait_fd(int fd, short events, int timeout_ms);
void twi_mark_broken(tw_client *c);
int twi_send_frame(tw_client *c, const Frame *f, tw_status *st);
/* Reads one frame. 1 = *out set, 0 = timeout, -1 = error (connection is then broken). */
int twi_read_frame(tw_client *c, int timeout_ms, Frame **out, tw_status *st);

/* push.c */
/* Handles a call_id 0 frame. Returns 0, or -1 for a connection error (status set). */
int twi_handle_push(tw_client *c, const Frame *f, tw_status *st);
int twi_send_ping(tw_client *c, uint64_t nonce, tw_status *st);

/* calls.c */
/* Fills `t` from the task message `p` (strings copied; free with tw_task_clear). */
void twi_task_from_proto(tw_task *t, const Taskwire__V1__Task *p);

/* callmachine.c */
/* -1 with a status when the connection cannot take a call. */
int twi_check_usable(tw_client *c, tw_status *st);
int twi_send_cancel_call(tw_client *c, uint64_t call_id, tw_status *st);
/* Waits for the next frame of call `call_id`, handling pushed frames meanwhile (see
 * callmachine.c). */
int twi_wait_call_frame(tw_client *c, uint64_t call_id, int interruptible, int *cancel_sent,
                        Frame **out, tw_status *st);
/* Sends `req` and waits for its one answer, whose body must be `expected` (see callmachine.c). */
int twi_call_ex(tw_client *c, Frame *req, Taskwire__V1__Frame__BodyCase expected,
                int interruptible, Frame **resp, tw_status *st);
int twi_unary_call(tw_client *c, Frame *req, Taskwire__V1__Frame__BodyCase expected,
                   Frame **resp, tw_status *st);

#endif

/*
 * c-load: a lean C load driver for a running `taskwire serve` (see README.md beside this file).
 *
 * Measures, over real TLS, with one pthread and one connection per simulated client:
 *   single  pipelined SubmitRequest frames (--conns connections x --inflight in flight)
 *   batch   SubmitBatchRequest frames of --batch tasks (--conns x --batch-inflight in flight)
 *   drain   a pre-filled queue leased (LeaseRequest, max_tasks --lease-max, long poll) and
 *           completed (CompleteBatchRequest) by --workers worker connections
 * and prints one line per figure: the median of --runs runs, with min and max.
 *
 * Connect, TLS and hello come from ClientSDK/C (tw_connect); frames are read with its bounded
 * frame reader (twi_read_frame) and pushed frames handled by twi_handle_push. Requests are packed
 * straight into a per-connection output buffer, so everything queued between two reads goes out
 * in one SSL_write.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tw_client.h"

#define SLOT_BITS 10
#define MAX_WINDOW (1 << SLOT_BITS)
#define READ_TICK_MS 20

/* ---- options ------------------------------------------------------------------------------ */

typedef struct options {
  char *address, *ca_file, *token, *data_dir;
  long tasks;
  int runs;
  int conns;
  int inflight;
  int batch;
  int batch_inflight;
  int workers;
  int lease_max;
  int lease_inflight;
  int lease_wait_ms;
  int payload_bytes;
  int brief;
  int prefill_conns;
  int timeout_s;
  int server_pid;
  int verbose;
  char only[128];
  char labels[512]; /* extra " k=v" labels appended to every line */
} options;

static options opt = {
    .tasks = 100000,
    .runs = 3,
    .conns = 16,
    .inflight = 64,
    .batch = 100,
    .batch_inflight = 4,
    .workers = 16,
    .lease_max = 64,
    .lease_inflight = 1,
    .lease_wait_ms = 5000,
    .payload_bytes = 128,
    .brief = 1,
    .prefill_conns = 4,
    .timeout_s = 300,
    .server_pid = 0,
    .only = "single,batch,drain",
};

static const char *usage =
    "usage: c-load [options]\n"
    "connection (flags > environment > data dir):\n"
    "  --address HOST:PORT     or TASKWIRE_ADDRESS, or DATA_DIR/address\n"
    "  --ca FILE               or TASKWIRE_CA, or DATA_DIR/tls/ca.pem\n"
    "  --token TOKEN           or TASKWIRE_TOKEN, or DATA_DIR/admin.token (needs an admin or\n"
    "                          worker token: the drain leases)\n"
    "  --data-dir DIR          the server's data directory (dev setup files)\n"
    "workload:\n"
    "  --only LIST             single,batch,drain (default: all three)\n"
    "  --tasks N               tasks per run and figure (default 100000; at most 1000000)\n"
    "  --runs N                runs per figure; the line is their median (default 3)\n"
    "  --conns N               submit connections (default 16)\n"
    "  --inflight N            single submits in flight per connection (default 64)\n"
    "  --batch N               tasks per SubmitBatchRequest (default 100)\n"
    "  --batch-inflight N      batches in flight per connection (default 4)\n"
    "  --workers N             drain worker connections (default 16)\n"
    "  --lease-max N           LeaseRequest.max_tasks (default 64; the server allows 256)\n"
    "  --lease-inflight N      lease calls in flight per worker (default 1)\n"
    "  --lease-wait-ms N       LeaseRequest.wait_ms, the long poll (default 5000)\n"
    "  --prefill-conns N       connections that pre-fill the drain queue (default 4)\n"
    "  --payload-bytes N       payload size (default 128)\n"
    "  --no-brief              full submit answers instead of brief ones (the Swift SDK's\n"
    "                          enqueue asks for brief ones)\n"
    "report:\n"
    "  --server-pid PID        also report server_cpu_us_per_op from /proc/PID/stat\n"
    "  --label K=V             append K=V to every line (repeatable)\n"
    "  --timeout-s N           give up on a run after N seconds (default 300)\n"
    "  --verbose               one line per run on stderr\n"
    "exit status: 0 all replies OK, 1 any error reply or failure, 2 bad usage\n";

/* ---- small helpers ------------------------------------------------------------------------ */

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of `pid` in seconds, or -1. */
static double proc_cpu_s(int pid) {
  if (pid <= 0) return -1;
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (p == NULL) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ")": state(3) ... utime is field 14, stime 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median as taskwire bench computes it (mean of the middle two for an even count). */
static double median(const double *v, int n) {
  if (n <= 0) return 0;
  double *s = malloc(sizeof *s * (size_t)n);
  memcpy(s, v, sizeof *s * (size_t)n);
  qsort(s, (size_t)n, sizeof *s, cmp_double);
  double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  free(s);
  return m;
}

/* ---- run-wide state: errors, abort, deadline ------------------------------------------------ */

static atomic_long g_errors;
static atomic_int g_abort;
static double g_deadline;
static pthread_mutex_t g_report_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_reported;

/* Counts `n` errors and prints the first few on stderr. */
static void report_error(long n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_error(long n, const char *fmt, ...) {
  atomic_fetch_add(&g_errors, n);
  pthread_mutex_lock(&g_report_lock);
  if (g_reported++ < 8) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "c-load: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
  } else if (g_reported == 9) {
    fprintf(stderr, "c-load: (further errors counted, not printed)\n");
  }
  pthread_mutex_unlock(&g_report_lock);
}

/* A failure that ends the run: counted as one error, every thread stops. */
static void fatal(const char *what, const char *msg) {
  report_error(1, "%s: %s", what, msg);
  atomic_store(&g_abort, 1);
}

static void report_status(long n, const char *what, const Taskwire__V1__Status *s) {
  report_error(n, "%s: %s %s%s%s", what, tw_code_name(s ? (int)s->code : -1),
               s && s->message ? s->message : "", s && s->limit_name && *s->limit_name ? " limit=" : "",
               s && s->limit_name ? s->limit_name : "");
}

/* ---- connections: connect, buffered writes, reads ------------------------------------------- */

typedef struct conn {
  tw_client *c;
  uint8_t *out;
  size_t out_len, out_cap;
} conn;

static int conn_open(conn *k, const char *name) {
  memset(k, 0, sizeof *k);
  tw_options o = {.address = opt.address, .ca_file = opt.ca_file, .token = opt.token,
                  .client_name = name};
  tw_status st;
  k->c = tw_connect(&o, &st);
  if (k->c == NULL) {
    char msg[700];
    snprintf(msg, sizeof msg, "%s %s", tw_code_name(st.code), st.message);
    fatal("connect", msg);
    return -1;
  }
  return 0;
}

static void conn_close(conn *k) {
  if (k->c) tw_close(k->c);
  free(k->out);
  memset(k, 0, sizeof *k);
}

/* Packs `f` with its length prefix at the end of the output buffer. */
static int conn_append(conn *k, const Frame *f) {
  size_t n = taskwire__v1__frame__get_packed_size(f);
  if (n > k->c->limits.max_frame_bytes) {
    char msg[128];
    snprintf(msg, sizeof msg, "a request of %zu bytes is over max_frame (%u)", n,
             k->c->limits.max_frame_bytes);
    fatal("pack", msg);
    return -1;
  }
  if (k->out_len + n + 4 > k->out_cap) {
    size_t cap = k->out_cap ? k->out_cap : 65536;
    while (cap < k->out_len + n + 4) cap *= 2;
    uint8_t *p = realloc(k->out, cap);
    if (p == NULL) {
      fatal("pack", "out of memory");
      return -1;
    }
    k->out = p;
    k->out_cap = cap;
  }
  uint8_t *h = k->out + k->out_len;
  h[0] = (uint8_t)(n >> 24);
  h[1] = (uint8_t)(n >> 16);
  h[2] = (uint8_t)(n >> 8);
  h[3] = (uint8_t)n;
  taskwire__v1__frame__pack(f, h + 4);
  k->out_len += n + 4;
  return 0;
}

/* Writes the whole output buffer (the socket is non-blocking: wait with poll). */
static int conn_flush(conn *k) {
  size_t off = 0;
  while (off < k->out_len) {
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(k->c->ssl, k->out + off, (int)(k->out_len - off));
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    int err = SSL_get_error(k->c->ssl, n);
    if ((err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) && mono_s() < g_deadline &&
        !atomic_load(&g_abort)) {
      twi_wait_fd(k->c->fd, err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 200);
      continue;
    }
    char msg[256];
    twi_ssl_error_text(msg, sizeof msg);
    twi_mark_broken(k->c);
    fatal("write", mono_s() >= g_deadline ? "timed out" : msg);
    return -1;
  }
  k->out_len = 0;
  k->c->last_send_ms = twi_mono_ms();
  return 0;
}

/* 1 when bytes that were already read (or decrypted) wait in the client. */
static int conn_buffered(const conn *k) {
  return k->c->rbuf_off < k->c->rbuf_len || SSL_has_pending(k->c->ssl);
}

/* Reads one frame. 1 = *out is an answer to a call; 0 = nothing (timeout or a pushed frame,
 * handled here); -1 = the connection failed (fatal reported). */
static int conn_read(conn *k, int timeout_ms, Frame **out) {
  tw_status st;
  Frame *f = NULL;
  int r = twi_read_frame(k->c, timeout_ms, &f, &st);
  if (r < 0) {
    char msg[700];
    snprintf(msg, sizeof msg, "%s %s", tw_code_name(st.code), st.message);
    fatal("read", msg);
    return -1;
  }
  if (r == 0) return 0;
  if (f->call_id == 0) {
    int h = twi_handle_push(k->c, f, &st); /* answers pings; a connection error fails */
    taskwire__v1__frame__free_unpacked(f, NULL);
    if (h != 0) {
      char msg[700];
      snprintf(msg, sizeof msg, "connection error from the server: %s %s", tw_code_name(st.code),
               st.message);
      fatal("read", msg);
      return -1;
    }
    if (k->c->going_away) {
      fatal("read", "the server sent go_away");
      return -1;
    }
    return 0;
  }
  *out = f;
  return 1;
}

/* ---- the pipelined loop ------------------------------------------------------------------- */

/* A workload on one connection: `fill` queues requests while its window allows, `reply` takes
 * one answer (call_id > 0), `done` says the connection's share is finished. */
typedef struct pipe_ops {
  int (*fill)(void *ctx, conn *k);
  int (*reply)(void *ctx, conn *k, Frame *f);
  int (*done)(void *ctx);
} pipe_ops;

/* Fill, write everything queued in one go, read one answer (waiting), then every answer already
 * buffered, and again. */
static int run_pipe(conn *k, const pipe_ops *ops, void *ctx) {
  for (;;) {
    if (ops->fill(ctx, k) != 0) return -1;
    if (k->out_len > 0 && conn_flush(k) != 0) return -1;
    if (ops->done(ctx)) return 0;
    if (atomic_load(&g_abort)) return -1;
    if (mono_s() >= g_deadline) {
      fatal("run", "timed out (see --timeout-s)");
      return -1;
    }
    Frame *f = NULL;
    int r = conn_read(k, READ_TICK_MS, &f);
    for (;;) {
      if (r < 0) return -1;
      if (r == 1) {
        int h = ops->reply(ctx, k, f);
        taskwire__v1__frame__free_unpacked(f, NULL);
        if (h != 0) return -1;
      }
      if (!conn_buffered(k)) break;
      r = conn_read(k, 0, &f);
    }
  }
}

/* ---- call slots: matching answers to requests by call_id ---------------------------------- */

/* call_id = (sequence << SLOT_BITS) | slot: unique for the connection's life, and the answer's
 * call_id finds its slot at once. */
typedef struct slots {
  int window;
  uint64_t seq;
  uint64_t *id;   /* call id in flight per slot, 0 = free */
  int *kind;      /* what the call was (workload-defined) */
  long *count;    /* tasks the call carries */
  int *cancelled; /* a CancelCall was sent */
  int *free_list;
  int nfree;
} slots;

static void slots_init(slots *s, int window) {
  memset(s, 0, sizeof *s);
  s->window = window;
  s->id = calloc((size_t)window, sizeof *s->id);
  s->kind = calloc((size_t)window, sizeof *s->kind);
  s->count = calloc((size_t)window, sizeof *s->count);
  s->cancelled = calloc((size_t)window, sizeof *s->cancelled);
  s->free_list = calloc((size_t)window, sizeof *s->free_list);
  for (int i = window - 1; i >= 0; i--) s->free_list[s->nfree++] = i;
}

static void slots_free(slots *s) {
  free(s->id);
  free(s->kind);
  free(s->count);
  free(s->cancelled);
  free(s->free_list);
}

/* Takes a free slot; returns the call id for it. */
static uint64_t slots_take(slots *s, int kind, long count, int *slot_out) {
  int slot = s->free_list[--s->nfree];
  uint64_t id = (++s->seq << SLOT_BITS) | (uint64_t)slot;
  s->id[slot] = id;
  s->kind[slot] = kind;
  s->count[slot] = count;
  s->cancelled[slot] = 0;
  if (slot_out) *slot_out = slot;
  return id;
}

/* The slot of an answer, or -1 when no call with that id is in flight (reported). */
static int slots_match(slots *s, uint64_t call_id) {
  uint64_t slot = call_id & (MAX_WINDOW - 1);
  if (slot >= (uint64_t)s->window || s->id[slot] != call_id) {
    report_error(1, "an answer with call_id %" PRIu64 " that matches no call in flight", call_id);
    atomic_store(&g_abort, 1);
    return -1;
  }
  return (int)slot;
}

static void slots_release(slots *s, int slot) {
  s->id[slot] = 0;
  s->free_list[s->nfree++] = slot;
}

/* ---- the task spec every submit sends ----------------------------------------------------- */

static uint8_t *g_payload;

static void spec_init(Taskwire__V1__TaskSpec *spec, const char *queue) {
  taskwire__v1__task_spec__init(spec);
  spec->queue = (char *)queue;
  spec->type = (char *)"c-load";
  spec->payload.data = g_payload;
  spec->payload.len = (size_t)opt.payload_bytes;
}

/* ---- single submits ----------------------------------------------------------------------- */

typedef struct submit_ctx {
  long total, sent, acked;
  slots s;
  Taskwire__V1__TaskSpec spec;
  Taskwire__V1__SubmitRequest req;
  Taskwire__V1__TaskSpec **batch_items; /* batch mode: `batch` pointers to spec */
  Taskwire__V1__SubmitBatchRequest breq;
} submit_ctx;

static int single_fill(void *vctx, conn *k) {
  submit_ctx *x = vctx;
  while (x->sent < x->total && x->s.nfree > 0) {
    Frame f = TASKWIRE__V1__FRAME__INIT;
    f.call_id = slots_take(&x->s, 0, 1, NULL);
    f.body_case = TASKWIRE__V1__FRAME__BODY_SUBMIT_REQUEST;
    f.submit_request = &x->req;
    if (conn_append(k, &f) != 0) return -1;
    x->sent++;
  }
  return 0;
}

static int single_reply(void *vctx, conn *k, Frame *f) {
  (void)k;
  submit_ctx *x = vctx;
  int slot = slots_match(&x->s, f->call_id);
  if (slot < 0) return 0;
  slots_release(&x->s, slot);
  x->acked++;
  if (f->body_case == TASKWIRE__V1__FRAME__BODY_SUBMIT_RESPONSE) {
    if (f->submit_response == NULL || f->submit_response->task == NULL ||
        f->submit_response->task->id == NULL || *f->submit_response->task->id == '\0')
      report_error(1, "submit: an answer without a task id");
  } else if (f->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) {
    report_status(1, "submit", f->error);
  } else {
    report_error(1, "submit: unexpected answer (body field %d)", (int)f->body_case);
  }
  return 0;
}

static int submit_done(void *vctx) {
  submit_ctx *x = vctx;
  return x->acked >= x->total;
}

static const pipe_ops single_ops = {single_fill, single_reply, submit_done};

/* ---- batch submits ------------------------------------------------------------------------ */

static int batch_fill(void *vctx, conn *k) {
  submit_ctx *x = vctx;
  while (x->sent < x->total && x->s.nfree > 0) {
    long n = x->total - x->sent;
    if (n > opt.batch) n = opt.batch;
    x->breq.n_tasks = (size_t)n;
    Frame f = TASKWIRE__V1__FRAME__INIT;
    f.call_id = slots_take(&x->s, 0, n, NULL);
    f.body_case = TASKWIRE__V1__FRAME__BODY_SUBMIT_BATCH_REQUEST;
    f.submit_batch_request = &x->breq;
    if (conn_append(k, &f) != 0) return -1;
    x->sent += n;
  }
  return 0;
}

static int batch_reply(void *vctx, conn *k, Frame *f) {
  (void)k;
  submit_ctx *x = vctx;
  int slot = slots_match(&x->s, f->call_id);
  if (slot < 0) return 0;
  long n = x->s.count[slot];
  slots_release(&x->s, slot);
  x->acked += n;
  if (f->body_case == TASKWIRE__V1__FRAME__BODY_SUBMIT_BATCH_RESPONSE) {
    Taskwire__V1__SubmitBatchResponse *r = f->submit_batch_response;
    if (r == NULL || (long)r->n_results != n) {
      report_error(n, "submit batch: %zu results for %ld tasks", r ? r->n_results : 0, n);
      return 0;
    }
    for (size_t i = 0; i < r->n_results; i++) {
      Taskwire__V1__SubmitResult *it = r->results[i];
      if (it->status && it->status->code != TASKWIRE__V1__STATUS_CODE__STATUS_CODE_OK) {
        report_status(1, "submit batch item", it->status);
      } else if (it->task == NULL || it->task->id == NULL || *it->task->id == '\0') {
        report_error(1, "submit batch item: no task id");
      }
    }
  } else if (f->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) {
    report_status(n, "submit batch", f->error);
  } else {
    report_error(n, "submit batch: unexpected answer (body field %d)", (int)f->body_case);
  }
  return 0;
}

static const pipe_ops batch_ops = {batch_fill, batch_reply, submit_done};

/* ---- drain: lease + CompleteBatch --------------------------------------------------------- */

enum { CALL_LEASE = 1, CALL_COMPLETE = 2 };

typedef struct drain_shared {
  long total;
  atomic_long finished; /* completions answered (OK or not) */
  atomic_long leased;
  atomic_int done;
  double end;           /* when `finished` reached `total` */
} drain_shared;

typedef struct drain_ctx {
  drain_shared *sh;
  slots s;
  int leases_out, completes_out;
  char *queue;
  Taskwire__V1__LeaseRequest lreq;
  Taskwire__V1__CompleteRequest *items;
  Taskwire__V1__CompleteRequest **item_ptrs;
} drain_ctx;

static int drain_fill(void *vctx, conn *k) {
  drain_ctx *x = vctx;
  if (!atomic_load(&x->sh->done)) {
    while (x->leases_out < opt.lease_inflight && x->s.nfree > 0) {
      Frame f = TASKWIRE__V1__FRAME__INIT;
      f.call_id = slots_take(&x->s, CALL_LEASE, 0, NULL);
      f.body_case = TASKWIRE__V1__FRAME__BODY_LEASE_REQUEST;
      f.lease_request = &x->lreq;
      if (conn_append(k, &f) != 0) return -1;
      x->leases_out++;
    }
    return 0;
  }
  /* Every task is completed: cancel the long polls still waiting. */
  for (int i = 0; i < x->s.window; i++) {
    if (x->s.id[i] != 0 && x->s.kind[i] == CALL_LEASE && !x->s.cancelled[i]) {
      Taskwire__V1__CancelCall cc = TASKWIRE__V1__CANCEL_CALL__INIT;
      Frame f = TASKWIRE__V1__FRAME__INIT;
      f.call_id = x->s.id[i];
      f.body_case = TASKWIRE__V1__FRAME__BODY_CANCEL_CALL;
      f.cancel_call = &cc;
      if (conn_append(k, &f) != 0) return -1;
      x->s.cancelled[i] = 1;
    }
  }
  return 0;
}

static void drain_finished(drain_ctx *x, long n) {
  long now = atomic_fetch_add(&x->sh->finished, n) + n;
  if (now >= x->sh->total && now - n < x->sh->total) {
    x->sh->end = mono_s();
    atomic_store(&x->sh->done, 1);
  }
}

static int drain_reply(void *vctx, conn *k, Frame *f) {
  drain_ctx *x = vctx;
  int slot = slots_match(&x->s, f->call_id);
  if (slot < 0) return 0;
  int kind = x->s.kind[slot], cancelled = x->s.cancelled[slot];
  long count = x->s.count[slot];
  slots_release(&x->s, slot);

  if (kind == CALL_LEASE) {
    x->leases_out--;
    if (f->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) {
      if (cancelled && f->error && f->error->code == TASKWIRE__V1__STATUS_CODE__STATUS_CODE_CANCELLED)
        return 0;
      report_status(1, "lease", f->error);
      atomic_store(&g_abort, 1);
      return -1;
    }
    if (f->body_case != TASKWIRE__V1__FRAME__BODY_LEASE_RESPONSE || f->lease_response == NULL) {
      report_error(1, "lease: unexpected answer (body field %d)", (int)f->body_case);
      atomic_store(&g_abort, 1);
      return -1;
    }
    Taskwire__V1__LeaseResponse *r = f->lease_response;
    if (r->n_tasks == 0) return 0; /* the long poll ran out */
    if ((int)r->n_tasks > opt.lease_max) {
      report_error(1, "lease: %zu tasks for max_tasks %d", r->n_tasks, opt.lease_max);
      atomic_store(&g_abort, 1);
      return -1;
    }
    long before = atomic_fetch_add(&x->sh->leased, (long)r->n_tasks);
    if (before + (long)r->n_tasks > x->sh->total)
      report_error((long)r->n_tasks, "lease: more tasks leased than were submitted");
    for (size_t i = 0; i < r->n_tasks; i++) {
      x->items[i].task_id = r->tasks[i]->id;
      x->items[i].lease_token = r->tasks[i]->lease_token;
    }
    Taskwire__V1__CompleteBatchRequest creq = TASKWIRE__V1__COMPLETE_BATCH_REQUEST__INIT;
    creq.n_items = r->n_tasks;
    creq.items = x->item_ptrs;
    Frame out = TASKWIRE__V1__FRAME__INIT;
    out.call_id = slots_take(&x->s, CALL_COMPLETE, (long)r->n_tasks, NULL);
    out.body_case = TASKWIRE__V1__FRAME__BODY_COMPLETE_BATCH_REQUEST;
    out.complete_batch_request = &creq;
    x->completes_out++;
    return conn_append(k, &out); /* packed now: the items point into `f` */
  }

  x->completes_out--;
  if (f->body_case == TASKWIRE__V1__FRAME__BODY_COMPLETE_BATCH_RESPONSE &&
      f->complete_batch_response != NULL) {
    Taskwire__V1__CompleteBatchResponse *r = f->complete_batch_response;
    if ((long)r->n_results != count) {
      report_error(count, "complete batch: %zu results for %ld items", r->n_results, count);
    } else {
      for (size_t i = 0; i < r->n_results; i++) {
        if (r->results[i] && r->results[i]->code != TASKWIRE__V1__STATUS_CODE__STATUS_CODE_OK)
          report_status(1, "complete batch item", r->results[i]);
      }
    }
  } else if (f->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) {
    report_status(count, "complete batch", f->error);
  } else {
    report_error(count, "complete batch: unexpected answer (body field %d)", (int)f->body_case);
  }
  drain_finished(x, count);
  return 0;
}

static int drain_done(void *vctx) {
  drain_ctx *x = vctx;
  return atomic_load(&x->sh->done) && x->leases_out == 0 && x->completes_out == 0;
}

static const pipe_ops drain_ops = {drain_fill, drain_reply, drain_done};

/* ---- threads ------------------------------------------------------------------------------ */

enum { W_SINGLE, W_BATCH, W_DRAIN };

typedef struct worker {
  pthread_t thread;
  int index;
  int what;
  long share; /* tasks for submit workloads */
  const char *queue;
  drain_shared *sh;
  pthread_barrier_t *ready; /* connected: wait here until every thread is */
  double end;               /* when this connection's share was acknowledged */
  int failed;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  conn k;
  char name[64];
  snprintf(name, sizeof name, "c-load-%s-%d",
           w->what == W_DRAIN ? "worker" : w->what == W_BATCH ? "batch" : "single", w->index);
  int ok = conn_open(&k, name) == 0;
  if (ok && w->what != W_DRAIN) {
    int window = w->what == W_SINGLE ? opt.inflight : opt.batch_inflight;
    uint32_t limit = k.c->limits.max_concurrent_calls;
    if (limit > 0 && (uint32_t)window > limit) {
      char msg[128];
      snprintf(msg, sizeof msg, "%d calls in flight, over the server's max_concurrent_calls %u",
               window, limit);
      fatal("window", msg);
      ok = 0;
    }
  }
  pthread_barrier_wait(w->ready);
  if (!ok || atomic_load(&g_abort)) {
    w->failed = 1;
    conn_close(&k);
    return NULL;
  }

  int rc;
  if (w->what == W_DRAIN) {
    drain_ctx x;
    memset(&x, 0, sizeof x);
    x.sh = w->sh;
    slots_init(&x.s, opt.lease_inflight * 2 < MAX_WINDOW ? opt.lease_inflight * 2 : MAX_WINDOW);
    taskwire__v1__lease_request__init(&x.lreq);
    char *queues[1] = {(char *)w->queue};
    x.lreq.n_queues = 1;
    x.lreq.queues = queues;
    x.lreq.max_tasks = (uint32_t)opt.lease_max;
    x.lreq.wait_ms = opt.lease_wait_ms;
    x.items = calloc((size_t)opt.lease_max, sizeof *x.items);
    x.item_ptrs = calloc((size_t)opt.lease_max, sizeof *x.item_ptrs);
    for (int i = 0; i < opt.lease_max; i++) {
      taskwire__v1__complete_request__init(&x.items[i]);
      x.item_ptrs[i] = &x.items[i];
    }
    rc = run_pipe(&k, &drain_ops, &x);
    free(x.items);
    free(x.item_ptrs);
    slots_free(&x.s);
  } else {
    submit_ctx x;
    memset(&x, 0, sizeof x);
    x.total = w->share;
    spec_init(&x.spec, w->queue);
    if (w->what == W_SINGLE) {
      slots_init(&x.s, opt.inflight);
      taskwire__v1__submit_request__init(&x.req);
      x.req.task = &x.spec;
      x.req.brief = opt.brief;
      rc = run_pipe(&k, &single_ops, &x);
    } else {
      slots_init(&x.s, opt.batch_inflight);
      x.batch_items = calloc((size_t)opt.batch, sizeof *x.batch_items);
      for (int i = 0; i < opt.batch; i++) x.batch_items[i] = &x.spec;
      taskwire__v1__submit_batch_request__init(&x.breq);
      x.breq.tasks = x.batch_items;
      x.breq.brief = opt.brief;
      rc = run_pipe(&k, &batch_ops, &x);
      free(x.batch_items);
    }
    slots_free(&x.s);
  }
  w->end = mono_s();
  if (rc != 0) w->failed = 1;
  conn_close(&k);
  return NULL;
}

typedef struct run_result {
  double seconds;
  double client_cpu, server_cpu; /* seconds in the timed window; server -1 when unknown */
  int failed;
} run_result;

/* Runs `n` connections of workload `what`, `total` tasks split among them; times from the moment
 * all are connected to the last acknowledgement (drain: to the completion that reached `total`). */
static run_result run_threads(int what, int n, long total, const char *queue) {
  run_result res = {0};
  worker *ws = calloc((size_t)n, sizeof *ws);
  pthread_barrier_t ready;
  pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
  drain_shared sh;
  memset(&sh, 0, sizeof sh);
  sh.total = total;
  for (int i = 0; i < n; i++) {
    ws[i].index = i;
    ws[i].what = what;
    ws[i].share = total / n + (i < total % n ? 1 : 0);
    ws[i].queue = queue;
    ws[i].sh = &sh;
    ws[i].ready = &ready;
    pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
  }
  g_deadline = mono_s() + opt.timeout_s;
  pthread_barrier_wait(&ready);
  double cpu0 = self_cpu_s(), srv0 = proc_cpu_s(opt.server_pid);
  double t0 = mono_s();
  for (int i = 0; i < n; i++) pthread_join(ws[i].thread, NULL);
  double end = 0;
  for (int i = 0; i < n; i++) {
    if (ws[i].failed) res.failed = 1;
    if (ws[i].end > end) end = ws[i].end;
  }
  if (what == W_DRAIN) end = sh.end;
  double cpu1 = self_cpu_s(), srv1 = proc_cpu_s(opt.server_pid);
  res.seconds = end - t0;
  res.client_cpu = cpu1 - cpu0;
  res.server_cpu = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
  if (what == W_DRAIN && !res.failed) {
    long fin = atomic_load(&sh.finished);
    if (fin != total) {
      report_error(1, "drain: %ld of %ld tasks completed", fin, total);
      res.failed = 1;
    }
  }
  pthread_barrier_destroy(&ready);
  free(ws);
  return res;
}

/* Counts the tasks of `queue` that are not SUCCEEDED (the drain must leave none). */
static long count_unfinished(const char *queue) {
  conn k;
  if (conn_open(&k, "c-load-check") != 0) return -1;
  Taskwire__V1__TaskFilter filter = TASKWIRE__V1__TASK_FILTER__INIT;
  char *queues[1] = {(char *)queue};
  filter.n_queues = 1;
  filter.queues = queues;
  Taskwire__V1__TaskState states[] = {
      TASKWIRE__V1__TASK_STATE__TASK_STATE_PENDING, TASKWIRE__V1__TASK_STATE__TASK_STATE_SCHEDULED,
      TASKWIRE__V1__TASK_STATE__TASK_STATE_RUNNING, TASKWIRE__V1__TASK_STATE__TASK_STATE_RETRYING,
      TASKWIRE__V1__TASK_STATE__TASK_STATE_FAILED,  TASKWIRE__V1__TASK_STATE__TASK_STATE_CANCELLED};
  filter.n_states = sizeof states / sizeof states[0];
  filter.states = states;
  Taskwire__V1__CountRequest req = TASKWIRE__V1__COUNT_REQUEST__INIT;
  req.filter = &filter;
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_COUNT_REQUEST;
  f.count_request = &req;
  Frame *r = NULL;
  tw_status st;
  long n = -1;
  if (twi_unary_call(k.c, &f, TASKWIRE__V1__FRAME__BODY_COUNT_RESPONSE, &r, &st) == 0) {
    n = (long)r->count_response->count;
    taskwire__v1__frame__free_unpacked(r, NULL);
  } else {
    /* A worker token may not count (client/admin only): say so, do not fail the run for it. */
    fprintf(stderr, "c-load: note: cannot count the drained queue: %s %s\n", tw_code_name(st.code),
            st.message);
    n = 0;
  }
  conn_close(&k);
  return n;
}

/* ---- figures ------------------------------------------------------------------------------ */

static int g_failed;

static void print_figure(const char *head, const double *tps, const double *ccpu,
                         const double *scpu, int n, long errors) {
  double mn = tps[0], mx = tps[0];
  for (int i = 1; i < n; i++) {
    if (tps[i] < mn) mn = tps[i];
    if (tps[i] > mx) mx = tps[i];
  }
  char cpu[128] = "";
  int have_server = 1;
  for (int i = 0; i < n; i++)
    if (scpu[i] < 0) have_server = 0;
  if (have_server)
    snprintf(cpu, sizeof cpu, " server_cpu_us_per_op=%.1f client_cpu_us_per_op=%.1f",
             median(scpu, n), median(ccpu, n));
  else
    snprintf(cpu, sizeof cpu, " client_cpu_us_per_op=%.1f", median(ccpu, n));
  printf("%s payload=%d%s%s tps=%.0f min=%.0f max=%.0f runs=%d errors=%ld\n", head,
         opt.payload_bytes, opt.labels, cpu, median(tps, n), mn, mx, n, errors);
  fflush(stdout);
}

static void figure(const char *bench, int what) {
  double *tps = calloc((size_t)opt.runs, sizeof *tps);
  double *ccpu = calloc((size_t)opt.runs, sizeof *ccpu);
  double *scpu = calloc((size_t)opt.runs, sizeof *scpu);
  long errors = 0;
  int done = 0;
  for (int run = 1; run <= opt.runs; run++) {
    char queue[128];
    snprintf(queue, sizeof queue, "c-load-%d-%s-%d", (int)getpid(), bench, run);
    atomic_store(&g_errors, 0);
    atomic_store(&g_abort, 0);
    pthread_mutex_lock(&g_report_lock);
    g_reported = 0;
    pthread_mutex_unlock(&g_report_lock);
    run_result r;
    if (what == W_DRAIN) {
      /* Pre-fill (not timed) with batch submits. */
      run_result p = run_threads(W_BATCH, opt.prefill_conns, opt.tasks, queue);
      if (p.failed || atomic_load(&g_errors) > 0) {
        errors += atomic_load(&g_errors);
        g_failed = 1;
        fprintf(stderr, "c-load: %s run %d: the pre-fill failed\n", bench, run);
        break;
      }
      r = run_threads(W_DRAIN, opt.workers, opt.tasks, queue);
      if (!r.failed) {
        long left = count_unfinished(queue);
        if (left != 0) report_error(1, "drain: %ld tasks of %s not SUCCEEDED afterwards", left, queue);
      }
    } else {
      r = run_threads(what, opt.conns, opt.tasks, queue);
    }
    long e = atomic_load(&g_errors);
    errors += e;
    if (r.failed || e > 0) g_failed = 1;
    if (r.failed || r.seconds <= 0) {
      fprintf(stderr, "c-load: %s run %d failed\n", bench, run);
      break;
    }
    tps[done] = (double)opt.tasks / r.seconds;
    ccpu[done] = r.client_cpu / (double)opt.tasks * 1e6;
    scpu[done] = r.server_cpu < 0 ? -1 : r.server_cpu / (double)opt.tasks * 1e6;
    if (opt.verbose)
      fprintf(stderr, "c-load: %s run %d: %ld tasks in %.3f s = %.0f/s, errors %ld\n", bench, run,
              opt.tasks, r.seconds, tps[done], e);
    done++;
  }
  char head[256];
  if (what == W_SINGLE)
    snprintf(head, sizeof head, "bench=c-submit mode=single conns=%d inflight=%d", opt.conns,
             opt.inflight);
  else if (what == W_BATCH)
    snprintf(head, sizeof head, "bench=c-submit mode=batch conns=%d batch=%d inflight=%d",
             opt.conns, opt.batch, opt.batch_inflight);
  else
    snprintf(head, sizeof head, "bench=c-drain workers=%d lease_max=%d lease_inflight=%d",
             opt.workers, opt.lease_max, opt.lease_inflight);
  if (done > 0) print_figure(head, tps, ccpu, scpu, done, errors);
  else printf("%s tps=0 runs=0 errors=%ld failed=1\n", head, errors);
  fflush(stdout);
  free(tps);
  free(ccpu);
  free(scpu);
}

/* ---- main --------------------------------------------------------------------------------- */

static int int_arg(const char *flag, const char *v, long lo, long hi, long *out) {
  char *end = NULL;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) {
    fprintf(stderr, "c-load: %s wants a number from %ld to %ld, not '%s'\n", flag, lo, hi, v);
    return -1;
  }
  *out = x;
  return 0;
}

static void from_env(char **slot, const char *name) {
  const char *v = getenv(name);
  if (*slot == NULL && v != NULL && *v != '\0') *slot = strdup(v);
}

int main(int argc, char **argv) {
  struct {
    const char *flag;
    long lo, hi;
    void *dst;
    int is_long;
  } nums[] = {
      {"--tasks", 1, 1000000, &opt.tasks, 1},
      {"--runs", 1, 1000, &opt.runs, 0},
      {"--conns", 1, 1000, &opt.conns, 0},
      {"--inflight", 1, MAX_WINDOW, &opt.inflight, 0},
      {"--batch", 1, 1000, &opt.batch, 0},
      {"--batch-inflight", 1, MAX_WINDOW, &opt.batch_inflight, 0},
      {"--workers", 1, 1000, &opt.workers, 0},
      {"--lease-max", 1, 256, &opt.lease_max, 0},
      {"--lease-inflight", 1, MAX_WINDOW / 2, &opt.lease_inflight, 0},
      {"--lease-wait-ms", 0, 60000, &opt.lease_wait_ms, 0},
      {"--prefill-conns", 1, 1000, &opt.prefill_conns, 0},
      {"--payload-bytes", 0, 4 << 20, &opt.payload_bytes, 0},
      {"--timeout-s", 1, 86400, &opt.timeout_s, 0},
      {"--server-pid", 1, 1 << 30, &opt.server_pid, 0},
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage, stdout);
      return 0;
    }
    if (strcmp(a, "--no-brief") == 0) {
      opt.brief = 0;
      continue;
    }
    if (strcmp(a, "--verbose") == 0) {
      opt.verbose = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "c-load: unknown flag or missing value: %s\n%s", a, usage);
      return 2;
    }
    const char *v = argv[i + 1];
    int matched = 1;
    if (strcmp(a, "--address") == 0) opt.address = strdup(v);
    else if (strcmp(a, "--ca") == 0) opt.ca_file = strdup(v);
    else if (strcmp(a, "--token") == 0) opt.token = strdup(v);
    else if (strcmp(a, "--data-dir") == 0) opt.data_dir = strdup(v);
    else if (strcmp(a, "--only") == 0) snprintf(opt.only, sizeof opt.only, "%s", v);
    else if (strcmp(a, "--label") == 0) {
      if (strchr(v, '=') == NULL || strchr(v, ' ') != NULL) {
        fprintf(stderr, "c-load: --label wants K=V without spaces, not '%s'\n", v);
        return 2;
      }
      size_t l = strlen(opt.labels);
      snprintf(opt.labels + l, sizeof opt.labels - l, " %s", v);
    } else {
      matched = 0;
      for (size_t j = 0; j < sizeof nums / sizeof nums[0]; j++) {
        if (strcmp(a, nums[j].flag) != 0) continue;
        long x;
        if (int_arg(a, v, nums[j].lo, nums[j].hi, &x) != 0) return 2;
        if (nums[j].is_long) *(long *)nums[j].dst = x;
        else *(int *)nums[j].dst = (int)x;
        matched = 1;
      }
    }
    if (!matched) {
      fprintf(stderr, "c-load: unknown flag: %s\n%s", a, usage);
      return 2;
    }
    i++;
  }

  from_env(&opt.address, "TASKWIRE_ADDRESS");
  from_env(&opt.ca_file, "TASKWIRE_CA");
  from_env(&opt.token, "TASKWIRE_TOKEN");
  from_env(&opt.data_dir, "TASKWIRE_DATA_DIR");
  if (opt.data_dir) {
    tw_status st;
    char *addr = NULL, *tok = NULL, *ca = NULL;
    if (tw_read_dev_setup(opt.data_dir, opt.address ? NULL : &addr, opt.token ? NULL : &tok,
                          opt.ca_file ? NULL : &ca, &st) != 0) {
      fprintf(stderr, "c-load: %s\n", st.message);
      return 2;
    }
    if (addr) opt.address = addr;
    if (tok) opt.token = tok;
    if (ca) opt.ca_file = ca;
  }
  if (!opt.address || !opt.ca_file || !opt.token) {
    fprintf(stderr, "c-load: need an address, a CA file and a token\n%s", usage);
    return 2;
  }
  int want_single = 0, want_batch = 0, want_drain = 0;
  {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", opt.only);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (strcmp(t, "single") == 0) want_single = 1;
      else if (strcmp(t, "batch") == 0) want_batch = 1;
      else if (strcmp(t, "drain") == 0) want_drain = 1;
      else {
        fprintf(stderr, "c-load: --only takes single, batch, drain; not '%s'\n", t);
        return 2;
      }
    }
  }
  if (opt.lease_inflight * 2 > 100) {
    fprintf(stderr, "c-load: --lease-inflight %d needs %d calls in flight, over the default "
                    "max_concurrent_calls (100)\n", opt.lease_inflight, opt.lease_inflight * 2);
    return 2;
  }

  signal(SIGPIPE, SIG_IGN); /* a closed peer gives EPIPE from SSL_write, not a dead process */
  g_payload = malloc((size_t)opt.payload_bytes + 1);
  for (int i = 0; i < opt.payload_bytes; i++) g_payload[i] = (uint8_t)('a' + i % 26);

  if (want_single) figure("single", W_SINGLE);
  if (want_batch) figure("batch", W_BATCH);
  if (want_drain) figure("drain", W_DRAIN);
  free(g_payload);
  return g_failed ? 1 : 0;
}

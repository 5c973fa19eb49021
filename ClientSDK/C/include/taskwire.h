/*
 * taskwire.h — a small blocking C client for the Taskwire wire protocol v1.
 *
 * One tw_client is one TLS connection to a coordinator. Calls are blocking and made one at a time
 * (a tw_client is not thread-safe; use one per thread). While a call waits for its answer the
 * library reads every frame the server pushes: it answers pings, records cancel notices (see
 * tw_next_cancel_notice) and notes go-away.
 *
 * Every call returns 0 on success and -1 on failure; on failure the tw_status the caller passed
 * holds the code (the wire's StatusCode, see docs/protocol.md section 8) and a message. Transport
 * failures (connection lost, TLS errors) are reported as TW_UNAVAILABLE with `local` set.
 *
 * Strings returned inside result structs are owned by those structs; free them with the matching
 * tw_*_clear / tw_*_free function.
 */
#ifndef TASKWIRE_H
#define TASKWIRE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: identical to taskwire.v1.StatusCode on the wire. */
typedef enum tw_code {
  TW_OK = 0,
  TW_CANCELLED = 1,
  TW_INVALID_ARGUMENT = 2,
  TW_NOT_FOUND = 3,
  TW_ALREADY_EXISTS = 4,
  TW_CONFLICT = 5,
  TW_FAILED_PRECONDITION = 6,
  TW_LEASE_LOST = 7,
  TW_RESOURCE_EXHAUSTED = 8,
  TW_UNAUTHENTICATED = 9,
  TW_PERMISSION_DENIED = 10,
  TW_DEADLINE_EXCEEDED = 11,
  TW_UNAVAILABLE = 12,
  TW_INTERNAL = 13
} tw_code;

/* The outcome of a call: the wire Status, plus whether the library made it up locally. */
typedef struct tw_status {
  int code;               /* a tw_code (unknown future codes are passed through) */
  char message[512];      /* human readable; never parse it */
  char limit_name[64];    /* for limits: e.g. "max_payload" */
  uint64_t limit_value;
  uint64_t observed_value;
  uint64_t resume_from;   /* watch streams that fell behind or were ended by shutdown */
  int snapshot_required;  /* watch resume point too old */
  int local;              /* 1: produced by this library (transport, TLS, bad argument), not the server */
} tw_status;

/* "OK", "LEASE_LOST", ... */
const char *tw_code_name(int code);
/* Whether the docs say a call failing with this status may be retried with backoff. */
int tw_status_retryable(const tw_status *st);

typedef enum tw_role {
  TW_ROLE_UNSPECIFIED = 0,
  TW_ROLE_CLIENT = 1,
  TW_ROLE_WORKER = 2,
  TW_ROLE_ADMIN = 3
} tw_role;
const char *tw_role_name(int role);

typedef enum tw_task_state {
  TW_STATE_UNSPECIFIED = 0,
  TW_STATE_PENDING = 1,
  TW_STATE_SCHEDULED = 2,
  TW_STATE_RUNNING = 3,
  TW_STATE_RETRYING = 4,
  TW_STATE_SUCCEEDED = 5,
  TW_STATE_FAILED = 6,
  TW_STATE_CANCELLED = 7
} tw_task_state;
const char *tw_state_name(int state);
/* SUCCEEDED, FAILED or CANCELLED. */
int tw_state_is_terminal(int state);

typedef enum tw_event_kind {
  TW_EVENT_UNSPECIFIED = 0,
  TW_EVENT_SNAPSHOT = 1,
  TW_EVENT_CREATED = 2,
  TW_EVENT_STATE_CHANGED = 3,
  TW_EVENT_PROGRESS = 4,
  TW_EVENT_RETRY_SCHEDULED = 5,
  TW_EVENT_CANCEL_REQUESTED = 6,
  TW_EVENT_FINISHED = 7,
  TW_EVENT_DELETED = 8
} tw_event_kind;
const char *tw_event_kind_name(int kind);

/* ---- Connection ------------------------------------------------------------------------- */

/* Default maximum frame body size (4 MiB), used until the server announces its own. */
#define TW_DEFAULT_MAX_FRAME_BYTES (4u * 1024u * 1024u)

typedef struct tw_options {
  const char *address;      /* "host:port" or "[v6]:port"; required */
  const char *ca_file;      /* PEM CA that signed the server certificate; required */
  const char *token;        /* API token; required */
  const char *client_name;  /* shown in logs and the worker registry; NULL = "taskwire-c" */
  const char *instance_id;  /* stable process id; NULL/"" = server assigns */
  const char *cert_file;    /* optional client certificate (mTLS) */
  const char *key_file;     /* its key */
  int connect_timeout_ms;   /* TCP + TLS + hello; 0 = 10000 */
  int ping_interval_ms;     /* ping when nothing was sent for this long; 0 = 100000 */
  /* When non-NULL and it becomes non-zero (e.g. set by a SIGINT handler) while tw_lease or
   * tw_watch waits, the library cancels that call (CancelCall) and keeps waiting for its answer:
   * tw_lease then fails with CANCELLED (or returns tasks that arrived first: release them);
   * tw_watch returns its stream_end status (CANCELLED). tw_poll returns early. Other calls
   * (complete, release, ...) are never interrupted. */
  volatile sig_atomic_t *interrupt_flag;
} tw_options;

typedef struct tw_limits {
  uint32_t max_frame_bytes;
  uint32_t max_payload_bytes;
  uint32_t max_concurrent_calls;
  uint64_t heartbeat_interval_ms;
  uint64_t idle_timeout_ms;
} tw_limits;

typedef struct tw_client tw_client;

/* Connects, verifies the server certificate (CA file + host name or IP), sends the hello.
 * Returns NULL and fills *st on failure (e.g. UNAUTHENTICATED for a bad token). */
tw_client *tw_connect(const tw_options *opts, tw_status *st);
/* Closes the connection and frees the client. NULL is fine. */
void tw_close(tw_client *c);

int tw_client_role(const tw_client *c);
const tw_limits *tw_client_limits(const tw_client *c);
const char *tw_client_server_version(const tw_client *c);
const char *tw_client_connection_id(const tw_client *c);
/* Non-zero once the server sent GoAway (no new calls will be accepted on this connection). */
int tw_client_going_away(const tw_client *c);

/* Sends a ping and waits for its pong. */
int tw_ping(tw_client *c, tw_status *st);
/* Reads and handles pushed frames (pings, cancel notices) for up to timeout_ms. */
int tw_poll(tw_client *c, int timeout_ms, tw_status *st);

typedef struct tw_cancel_notice {
  char *task_id;
  char *lease_token;
  char *reason;
} tw_cancel_notice;
/* Pops the oldest recorded cancel notice into *out (free with tw_cancel_notice_clear).
 * Returns 1 if one was popped, 0 if none is pending. */
int tw_next_cancel_notice(tw_client *c, tw_cancel_notice *out);
/* 1 if a cancel notice for task_id was received and not popped yet. */
int tw_cancel_noticed(const tw_client *c, const char *task_id);
void tw_cancel_notice_clear(tw_cancel_notice *n);

/* ---- Tasks -------------------------------------------------------------------------------- */

typedef struct tw_task_spec {
  const char *queue;            /* NULL/"" = "default" */
  const char *type;             /* required */
  const void *payload;
  size_t payload_len;
  const char *content_type;
  int32_t priority;
  int64_t run_at_ms;
  int64_t delay_ms;
  const char *idempotency_key;
  int32_t max_attempts;         /* 0 = default (5) */
  int64_t lease_duration_ms;    /* 0 = default (30 s) */
  int64_t execution_timeout_ms; /* 0 = none */
  const char *parent_id;
  int clean_on_success;
  /* Retry policy: kind 0 = server default; 1 fixed; 2 exponential. */
  int retry_kind;
  int64_t retry_initial_ms;
  double retry_multiplier;
  int64_t retry_max_ms;
  double retry_jitter;
  /* Metadata pairs. */
  const char *const *metadata_keys;
  const char *const *metadata_values;
  size_t metadata_count;
} tw_task_spec;

typedef struct tw_task {
  char *id;
  char *queue;
  char *type;
  int state;                  /* tw_task_state */
  int32_t attempt;
  int32_t max_attempts;
  int32_t progress;
  char *progress_message;
  char *last_error;
  uint8_t *result;
  size_t result_len;
  char *result_content_type;
  char *worker_id;
  int64_t lease_deadline_ms;
  int64_t created_ms;
  int64_t started_ms;
  int64_t finished_ms;
  int64_t updated_ms;
  int64_t next_run_ms;
  int cancel_requested;
  size_t attempts_count;      /* history rows */
  uint64_t sequence;
} tw_task;
void tw_task_clear(tw_task *t);

/* Submit one task. *out (may be NULL) receives the task; *existing (may be NULL) is set to 1 for
 * an idempotent repeat. */
int tw_submit(tw_client *c, const tw_task_spec *spec, tw_task *out, int *existing, tw_status *st);
int tw_get(tw_client *c, const char *task_id, tw_task *out, tw_status *st);
int tw_cancel(tw_client *c, const char *task_id, const char *reason, tw_task *out, tw_status *st);
int tw_health(tw_client *c, int *ready, tw_status *st);

/* ---- Watch ------------------------------------------------------------------------------ */

typedef struct tw_watch_event {
  uint64_t sequence;
  const char *task_id;
  int kind;                   /* tw_event_kind */
  int state;
  int32_t attempt;
  int32_t progress;
  const char *message;
  const char *error;
  uint64_t result_size;
  int64_t time_ms;
  const char *queue;
  const char *type;
  int64_t next_run_ms;
  const tw_task *task;        /* SNAPSHOT only, else NULL */
} tw_watch_event;

/* Called once per event; the event is valid only during the call. Return 0 to keep watching,
 * non-zero to stop (the library cancels the stream and tw_watch returns 0). */
typedef int (*tw_watch_fn)(const tw_watch_event *ev, void *user);

typedef struct tw_watch_request {
  const char *const *task_ids; /* watch these tasks ... */
  size_t task_ids_count;
  const char *const *queues;   /* ... or (no task ids) every task in these queues/types */
  size_t queues_count;
  const char *const *types;
  size_t types_count;
  uint64_t after_sequence;     /* > 0: replay events after this sequence, then go live */
} tw_watch_request;

/* Blocks until the callback stops the stream (returns 0), or the stream ends: a stream_end with
 * OK returns 0, any other returns -1 with its status (st->resume_from / st->snapshot_required
 * tell how to resume). *last_sequence (may be NULL) receives the last sequence delivered. */
int tw_watch(tw_client *c, const tw_watch_request *req, tw_watch_fn fn, void *user,
             uint64_t *last_sequence, tw_status *st);

/* ---- Worker ----------------------------------------------------------------------------- */

typedef struct tw_leased_task {
  char *id;
  char *queue;
  char *type;
  uint8_t *payload;
  size_t payload_len;
  char *content_type;
  int32_t attempt;
  int32_t max_attempts;
  char *lease_token;
  int64_t lease_deadline_ms;
  int64_t lease_duration_ms;
  int64_t execution_timeout_ms;
  char *parent_id;
  int32_t priority;
} tw_leased_task;

typedef struct tw_lease_request {
  const char *const *queues;  /* empty = "default" */
  size_t queues_count;
  const char *const *types;   /* empty = any */
  size_t types_count;
  uint32_t max_tasks;         /* 0 = 1, at most 256 */
  int64_t wait_ms;            /* long poll, at most 60000 */
} tw_lease_request;

/* Leases up to max_tasks tasks. *tasks receives an array of *count tasks (possibly 0 after the
 * wait ran out); free it with tw_leased_tasks_free. */
int tw_lease(tw_client *c, const tw_lease_request *req, tw_leased_task **tasks, size_t *count,
             tw_status *st);
void tw_leased_tasks_free(tw_leased_task *tasks, size_t count);

/* Extends the lease; percent < 0 leaves progress unchanged. Outputs may be NULL. */
int tw_heartbeat(tw_client *c, const char *task_id, const char *lease_token, int percent,
                 const char *message, int64_t *lease_deadline_ms, int *cancel_requested,
                 tw_status *st);
int tw_complete(tw_client *c, const char *task_id, const char *lease_token, const void *result,
                size_t result_len, const char *content_type, tw_status *st);
/* *state receives RETRYING or FAILED, *next_run_ms the next attempt's time; both may be NULL. */
int tw_fail(tw_client *c, const char *task_id, const char *lease_token, const char *error,
            int permanent, int64_t retry_after_ms, int *state, int64_t *next_run_ms,
            tw_status *st);
int tw_release(tw_client *c, const char *task_id, const char *lease_token, tw_status *st);
int tw_cancel_ack(tw_client *c, const char *task_id, const char *lease_token,
                  const char *message, tw_status *st);

/* ---- Development setup ------------------------------------------------------------------ */

/* Reads DATA_DIR/address and DATA_DIR/admin.token (trimmed) into malloc'd strings and sets
 * *ca_file to a malloc'd "DATA_DIR/tls/ca.pem". Any output may be NULL. */
int tw_read_dev_setup(const char *data_dir, char **address, char **token, char **ca_file,
                      tw_status *st);

/* Wall clock, Unix ms. */
int64_t tw_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif /* TASKWIRE_H */

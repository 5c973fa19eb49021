/*
 * submit — submits a task, watches it until it ends, prints the result.
 *
 *   submit --data-dir DIR --type resize --payload '{"w":64}' [--queue Q] [--priority N]
 *          [--lease-ms MS] [--max-attempts N] [--key IDEMPOTENCY_KEY] [--no-wait]
 *          [--payload-size N] [--timeout-ms MS]
 *   submit --data-dir DIR --watch TASK_ID       (watch an existing task until it ends)
 *   submit --data-dir DIR --cancel TASK_ID      (request its cancel, then watch it end)
 *
 * Output (for scripts): "submitted ID", one "event SEQ KIND STATE progress=P" line per watch event,
 * then "state STATE attempt N" and "result BYTES". Exit status: 0 SUCCEEDED (or --no-wait),
 * 1 FAILED or CANCELLED, 2 any error ("error CODE" on stdout).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "taskwire.h"

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: submit --type TYPE [--payload STR | --payload-size N] [--queue Q] [--priority N]\n"
          "              [--lease-ms MS]"
          " [--max-attempts N] [--key KEY] [--no-wait] [--timeout-ms MS]\n"
          "       submit --watch TASK_ID [--timeout-ms MS]\n"
          "       submit --cancel TASK_ID [--timeout-ms MS]\n"
          "  plus connection flags\n%s",
          example_conn_usage);
}

static int fail_with(const char *what, const tw_status *st) {
  fprintf(stderr, "submit: %s: %s: %s\n", what, tw_code_name(st->code), st->message);
  if (st->limit_name[0]) {
    printf("error %s %s limit=%llu observed=%llu\n", tw_code_name(st->code), st->limit_name,
           (unsigned long long)st->limit_value, (unsigned long long)st->observed_value);
  } else {
    printf("error %s\n", tw_code_name(st->code));
  }
  return 2;
}

typedef struct watch_state {
  int finished;
  int state;
} watch_state;

static int on_event(const tw_watch_event *ev, void *user) {
  watch_state *ws = user;
  printf("event %llu %s %s progress=%d%s%s\n", (unsigned long long)ev->sequence,
         tw_event_kind_name(ev->kind), tw_state_name(ev->task ? ev->task->state : ev->state),
         ev->task ? ev->task->progress : ev->progress, ev->message && *ev->message ? " " : "",
         ev->message ? ev->message : "");
  int state = ev->task ? ev->task->state : ev->state;
  if (ev->kind == TW_EVENT_FINISHED || tw_state_is_terminal(state) ||
      ev->kind == TW_EVENT_DELETED) {
    ws->finished = 1;
    ws->state = state;
    return 1; /* stop watching */
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  example_conn ec = {0};
  tw_task_spec spec = {0};
  const char *watch_id = NULL;
  int no_wait = 0;
  long timeout_ms = 0;
  size_t payload_size = 0;
  int cancel = 0;
  char *generated = NULL;
  spec.type = NULL;
  for (int i = 1; i < argc; i++) {
    int r = example_conn_flag(&ec, argc, argv, &i);
    if (r < 0) goto bad;
    if (r > 0) continue;
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--type") == 0 && v) spec.type = argv[++i];
    else if (strcmp(a, "--queue") == 0 && v) spec.queue = argv[++i];
    else if (strcmp(a, "--payload") == 0 && v) {
      spec.payload = argv[++i];
      spec.payload_len = strlen(argv[i]);
      spec.content_type = "application/json";
    } else if (strcmp(a, "--payload-size") == 0 && v) {
      /* A generated payload of N bytes (e.g. to see the max_payload limit). */
      payload_size = (size_t)atol(argv[++i]);
    } else if (strcmp(a, "--priority") == 0 && v) spec.priority = atoi(argv[++i]);
    else if (strcmp(a, "--lease-ms") == 0 && v) spec.lease_duration_ms = atoll(argv[++i]);
    else if (strcmp(a, "--max-attempts") == 0 && v) spec.max_attempts = atoi(argv[++i]);
    else if (strcmp(a, "--key") == 0 && v) spec.idempotency_key = argv[++i];
    else if (strcmp(a, "--watch") == 0 && v) watch_id = argv[++i];
    else if (strcmp(a, "--cancel") == 0 && v) {
      watch_id = argv[++i];
      cancel = 1;
    }
    else if (strcmp(a, "--timeout-ms") == 0 && v) timeout_ms = atol(argv[++i]);
    else if (strcmp(a, "--no-wait") == 0) no_wait = 1;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage();
      example_conn_free(&ec);
      return 0;
    } else goto bad;
  }
  if (spec.type == NULL && watch_id == NULL) goto bad;
  if (payload_size > 0) {
    generated = malloc(payload_size);
    if (generated == NULL) goto bad;
    memset(generated, 'x', payload_size);
    spec.payload = generated;
    spec.payload_len = payload_size;
    spec.content_type = "application/octet-stream";
  }
  if (example_conn_resolve(&ec, "submit") != 0) {
    example_conn_free(&ec);
    return 2;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
  if (timeout_ms > 0) alarm((unsigned)((timeout_ms + 999) / 1000));

  tw_options opts = {.address = ec.address, .ca_file = ec.ca_file, .token = ec.token,
                     .client_name = "c-example-submit", .interrupt_flag = &g_stop};
  tw_status st;
  int rc = 2;
  tw_client *c = tw_connect(&opts, &st);
  if (c == NULL) {
    rc = fail_with("connect", &st);
    example_conn_free(&ec);
    return rc;
  }

  char *id = NULL;
  if (watch_id == NULL) {
    tw_task task = {0};
    int existing = 0;
    if (tw_submit(c, &spec, &task, &existing, &st) != 0) {
      rc = fail_with("submit", &st);
      /* A limit error leaves the connection usable: show it with a health call. */
      int ready = 0;
      if (!st.local && tw_health(c, &ready, &st) == 0) printf("connection still usable\n");
      goto out;
    }
    printf("submitted %s%s\n", task.id, existing ? " (existing)" : "");
    id = strdup(task.id);
    tw_task_clear(&task);
    if (no_wait) {
      rc = 0;
      goto out;
    }
  } else {
    id = strdup(watch_id);
  }
  if (cancel) {
    tw_task task = {0};
    if (tw_cancel(c, id, "cancelled by the C example", &task, &st) != 0) {
      rc = fail_with("cancel", &st);
      goto out;
    }
    printf("cancel requested %s state %s\n", id, tw_state_name(task.state));
    tw_task_clear(&task);
  }

  /* Watch until the task ends, resuming where the stream left off if it had to end early. */
  watch_state ws = {0};
  const char *ids[1] = {id};
  uint64_t last = 0;
  tw_watch_request wr = {.task_ids = ids, .task_ids_count = 1, .after_sequence = 0};
  for (;;) {
    if (tw_watch(c, &wr, on_event, &ws, &last, &st) == 0) break;
    if (st.code == TW_RESOURCE_EXHAUSTED && st.resume_from > 0) {
      wr.after_sequence = st.resume_from;
      continue;
    }
    if (st.code == TW_FAILED_PRECONDITION && st.snapshot_required) {
      wr.after_sequence = 0;
      continue;
    }
    if (st.code == TW_CANCELLED && g_stop) {
      fprintf(stderr, "submit: gave up waiting\n");
      printf("error DEADLINE_EXCEEDED\n");
      goto out;
    }
    rc = fail_with("watch", &st);
    goto out;
  }

  tw_task task = {0};
  if (tw_get(c, id, &task, &st) != 0) {
    rc = fail_with("get", &st);
    goto out;
  }
  printf("state %s attempt %d\n", tw_state_name(task.state), task.attempt);
  if (task.result_len > 0) printf("result %.*s\n", (int)task.result_len, (const char *)task.result);
  if (task.last_error && *task.last_error) printf("last_error %s\n", task.last_error);
  rc = task.state == TW_STATE_SUCCEEDED ? 0 : 1;
  tw_task_clear(&task);

out:
  free(id);
  free(generated);
  tw_close(c);
  example_conn_free(&ec);
  return rc;

bad:
  usage();
  free(generated);
  example_conn_free(&ec);
  return 2;
}

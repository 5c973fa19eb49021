/*
 * worker — a Taskwire worker in C.
 *
 * Leases tasks of a type, works on each in steps while heartbeating progress, then completes it
 * (or fails it). Stops cleanly on SIGINT/SIGTERM: a waiting lease poll is cancelled, a task in
 * progress is released (no attempt used), and the connection is closed.
 *
 *   worker --data-dir DIR --type resize [--queue Q] [--steps 4] [--step-ms 200] [--max-tasks N]
 *
 * Output (one line per event, for scripts): "leased ID attempt N", "progress ID P",
 * "completed ID", "failed ID STATE", "LEASE_LOST ID", "cancel-notice ID (pushed|heartbeat)",
 * "cancelled ID", "released ID".
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"
#include "taskwire.h"

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

typedef struct worker_opts {
  const char *queue;
  const char *type;
  int steps;
  int step_ms;
  long max_tasks;         /* 0 = unlimited */
  int fail;               /* fail every task (retryable) */
  int fail_permanent;     /* fail every task permanently */
  int no_heartbeat;       /* never heartbeat (to let the lease expire) */
  const char *work_until; /* before finishing, wait until this file exists */
  long wait_ms;           /* lease long poll */
  long idle_exit_ms;      /* exit after this long without a task; 0 = never */
} worker_opts;

static void usage(void) {
  fprintf(stderr,
          "usage: worker --type TYPE [--queue Q] [--steps N] [--step-ms MS] [--max-tasks N]\n"
          "              [--fail | --fail-permanent] [--no-heartbeat] [--work-until FILE]\n"
          "              [--wait-ms MS] [--idle-exit-ms MS] [connection flags]\n%s",
          example_conn_usage);
}

static void print_status(const char *what, const tw_status *st) {
  fprintf(stderr, "worker: %s: %s: %s\n", what, tw_code_name(st->code), st->message);
}

/* Waits `ms` while still answering pings and collecting cancel notices. */
static int idle_wait(tw_client *c, int ms, tw_status *st) {
  return tw_poll(c, ms, st);
}

/* Result of running one task. */
enum outcome { DONE, STOPPED, LOST, BROKEN };

static enum outcome run_task(tw_client *c, const worker_opts *o, const tw_leased_task *t) {
  tw_status st;
  int cancel = 0;
  for (int step = 1; step <= o->steps; step++) {
    if (idle_wait(c, o->step_ms, &st) != 0) {
      print_status("waiting", &st);
      return BROKEN;
    }
    if (g_stop) {
      if (tw_release(c, t->id, t->lease_token, &st) == 0) {
        printf("released %s\n", t->id);
      } else {
        print_status("release", &st);
      }
      return STOPPED;
    }
    if (!cancel && tw_cancel_noticed(c, t->id)) {
      printf("cancel-notice %s (pushed)\n", t->id);
      cancel = 1;
    }
    if (!o->no_heartbeat) {
      int pct = step * 100 / o->steps;
      char msg[64];
      snprintf(msg, sizeof msg, "step %d of %d", step, o->steps);
      int64_t deadline = 0;
      int cancel_requested = 0;
      if (tw_heartbeat(c, t->id, t->lease_token, pct, msg, &deadline, &cancel_requested, &st) != 0) {
        if (st.code == TW_LEASE_LOST) {
          printf("LEASE_LOST %s (heartbeat): %s\n", t->id, st.message);
          return LOST;
        }
        print_status("heartbeat", &st);
        return st.local ? BROKEN : LOST;
      }
      printf("progress %s %d\n", t->id, pct);
      if (cancel_requested && !cancel) {
        printf("cancel-notice %s (heartbeat)\n", t->id);
        cancel = 1;
      }
    }
    if (cancel) break;
  }

  if (cancel) {
    if (tw_cancel_ack(c, t->id, t->lease_token, "stopped by the C worker", &st) != 0) {
      print_status("cancel ack", &st);
      return st.code == TW_LEASE_LOST ? LOST : (st.local ? BROKEN : DONE);
    }
    printf("cancelled %s\n", t->id);
    /* Drop the notice we acted on. */
    tw_cancel_notice n;
    while (tw_next_cancel_notice(c, &n)) tw_cancel_notice_clear(&n);
    return DONE;
  }

  if (o->work_until) {
    struct stat sb;
    int waited = 0;
    while (stat(o->work_until, &sb) != 0 && !g_stop && waited < 120000) {
      if (idle_wait(c, 100, &st) != 0) {
        print_status("waiting", &st);
        return BROKEN;
      }
      waited += 100;
    }
  }

  if (o->fail || o->fail_permanent) {
    int state = 0;
    int64_t next = 0;
    if (tw_fail(c, t->id, t->lease_token, "the C worker was told to fail", o->fail_permanent, 0,
                &state, &next, &st) != 0) {
      if (st.code == TW_LEASE_LOST) {
        printf("LEASE_LOST %s (fail): %s\n", t->id, st.message);
        return LOST;
      }
      print_status("fail", &st);
      return st.local ? BROKEN : DONE;
    }
    printf("failed %s %s\n", t->id, tw_state_name(state));
    return DONE;
  }

  /* The result: a small JSON document echoing the payload's size and the payload when short. */
  char result[512];
  int n = snprintf(result, sizeof result, "{\"worker\":\"c\",\"type\":\"%s\",\"input_bytes\":%zu}",
                   t->type, t->payload_len);
  if (n < 0 || (size_t)n >= sizeof result) n = (int)strlen(result);
  if (tw_complete(c, t->id, t->lease_token, result, (size_t)n, "application/json", &st) != 0) {
    if (st.code == TW_LEASE_LOST) {
      printf("LEASE_LOST %s (complete): %s\n", t->id, st.message);
      return LOST;
    }
    print_status("complete", &st);
    return st.local ? BROKEN : DONE;
  }
  printf("completed %s\n", t->id);
  return DONE;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  example_conn ec = {0};
  worker_opts o = {.queue = NULL, .type = NULL, .steps = 4, .step_ms = 200, .wait_ms = 5000};
  for (int i = 1; i < argc; i++) {
    int r = example_conn_flag(&ec, argc, argv, &i);
    if (r < 0) goto bad;
    if (r > 0) continue;
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--queue") == 0 && v) o.queue = argv[++i];
    else if (strcmp(a, "--type") == 0 && v) o.type = argv[++i];
    else if (strcmp(a, "--steps") == 0 && v) o.steps = atoi(argv[++i]);
    else if (strcmp(a, "--step-ms") == 0 && v) o.step_ms = atoi(argv[++i]);
    else if (strcmp(a, "--max-tasks") == 0 && v) o.max_tasks = atol(argv[++i]);
    else if (strcmp(a, "--wait-ms") == 0 && v) o.wait_ms = atol(argv[++i]);
    else if (strcmp(a, "--idle-exit-ms") == 0 && v) o.idle_exit_ms = atol(argv[++i]);
    else if (strcmp(a, "--work-until") == 0 && v) o.work_until = argv[++i];
    else if (strcmp(a, "--fail") == 0) o.fail = 1;
    else if (strcmp(a, "--fail-permanent") == 0) o.fail_permanent = 1;
    else if (strcmp(a, "--no-heartbeat") == 0) o.no_heartbeat = 1;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage();
      example_conn_free(&ec);
      return 0;
    } else goto bad;
  }
  if (o.type == NULL || o.steps < 1 || o.step_ms < 0) goto bad;
  if (example_conn_resolve(&ec, "worker") != 0) {
    example_conn_free(&ec);
    return 2;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  tw_options opts = {.address = ec.address, .ca_file = ec.ca_file, .token = ec.token,
                     .client_name = "c-example-worker", .interrupt_flag = &g_stop};
  tw_status st;
  tw_client *c = tw_connect(&opts, &st);
  if (c == NULL) {
    fprintf(stderr, "worker: connect: %s: %s\n", tw_code_name(st.code), st.message);
    printf("error %s\n", tw_code_name(st.code));
    example_conn_free(&ec);
    return 2;
  }
  printf("connected role=%s server=%s\n", tw_role_name(tw_client_role(c)),
         tw_client_server_version(c));

  const char *queues[1] = {o.queue};
  const char *types[1] = {o.type};
  tw_lease_request lr = {.queues = queues, .queues_count = o.queue ? 1 : 0, .types = types,
                         .types_count = 1, .max_tasks = 1, .wait_ms = o.wait_ms};
  long done = 0;
  int rc = 0;
  int64_t idle_since = tw_now_ms();
  while (!g_stop && (o.max_tasks == 0 || done < o.max_tasks)) {
    tw_leased_task *tasks = NULL;
    size_t count = 0;
    if (tw_lease(c, &lr, &tasks, &count, &st) != 0) {
      if (st.code == TW_CANCELLED && g_stop) break;
      print_status("lease", &st);
      rc = 1;
      break;
    }
    if (count == 0) {
      if (o.idle_exit_ms > 0 && tw_now_ms() - idle_since >= o.idle_exit_ms) {
        printf("idle\n");
        break;
      }
      continue;
    }
    enum outcome out = DONE;
    for (size_t i = 0; i < count; i++) {
      if (out == STOPPED || out == BROKEN || g_stop) {
        /* Stopping: hand back what we did not start. */
        if (out != BROKEN && tw_release(c, tasks[i].id, tasks[i].lease_token, &st) == 0)
          printf("released %s\n", tasks[i].id);
        continue;
      }
      printf("leased %s attempt %d\n", tasks[i].id, tasks[i].attempt);
      out = run_task(c, &o, &tasks[i]);
      done++;
    }
    tw_leased_tasks_free(tasks, count);
    idle_since = tw_now_ms();
    if (out == BROKEN) {
      rc = 1;
      break;
    }
  }
  printf("stopped after %ld task(s)\n", done);
  tw_close(c);
  example_conn_free(&ec);
  return rc;

bad:
  usage();
  example_conn_free(&ec);
  return 2;
}

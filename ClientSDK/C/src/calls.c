/*
 * The Taskwire API calls (client, worker, development setup), built on the connection
 * (client.c) and the call machinery (callmachine.c); the watch stream is in watch.c. See
 * include/taskwire.h for the API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_client.h"

/* ---- conversions -------------------------------------------------------------------------- */

void tw_task_clear(tw_task *t) {
  if (t == NULL) return;
  free(t->id);
  free(t->queue);
  free(t->type);
  free(t->progress_message);
  free(t->last_error);
  free(t->result);
  free(t->result_content_type);
  free(t->worker_id);
  memset(t, 0, sizeof *t);
}

void twi_task_from_proto(tw_task *t, const Taskwire__V1__Task *p) {
  memset(t, 0, sizeof *t);
  if (p == NULL) {
    t->id = twi_dupstr("");
    t->queue = twi_dupstr("");
    t->type = twi_dupstr("");
    t->progress_message = twi_dupstr("");
    t->last_error = twi_dupstr("");
    t->result_content_type = twi_dupstr("");
    t->worker_id = twi_dupstr("");
    return;
  }
  t->id = twi_dupstr(p->id);
  t->queue = twi_dupstr(p->spec && p->spec->queue && *p->spec->queue ? p->spec->queue : "default");
  t->type = twi_dupstr(p->spec ? p->spec->type : "");
  t->max_attempts = p->spec ? p->spec->max_attempts : 0;
  t->state = (int)p->state;
  t->attempt = p->attempt;
  t->progress = p->progress;
  t->progress_message = twi_dupstr(p->progress_message);
  t->last_error = twi_dupstr(p->last_error);
  if (p->result.len > 0) {
    t->result = malloc(p->result.len);
    if (t->result) {
      memcpy(t->result, p->result.data, p->result.len);
      t->result_len = p->result.len;
    }
  }
  t->result_content_type = twi_dupstr(p->result_content_type);
  t->worker_id = twi_dupstr(p->worker_id);
  t->lease_deadline_ms = p->lease_deadline_ms;
  t->created_ms = p->created_ms;
  t->started_ms = p->started_ms;
  t->finished_ms = p->finished_ms;
  t->updated_ms = p->updated_ms;
  t->next_run_ms = p->next_run_ms;
  t->cancel_requested = p->cancel_requested ? 1 : 0;
  t->attempts_count = p->n_attempts;
  t->sequence = p->sequence;
}

static void leased_from_proto(tw_leased_task *t, const Taskwire__V1__LeasedTask *p) {
  memset(t, 0, sizeof *t);
  t->id = twi_dupstr(p->id);
  t->queue = twi_dupstr(p->queue);
  t->type = twi_dupstr(p->type);
  if (p->payload.len > 0) {
    t->payload = malloc(p->payload.len);
    if (t->payload) {
      memcpy(t->payload, p->payload.data, p->payload.len);
      t->payload_len = p->payload.len;
    }
  }
  t->content_type = twi_dupstr(p->content_type);
  t->attempt = p->attempt;
  t->max_attempts = p->max_attempts;
  t->lease_token = twi_dupstr(p->lease_token);
  t->lease_deadline_ms = p->lease_deadline_ms;
  t->lease_duration_ms = p->lease_duration_ms;
  t->execution_timeout_ms = p->execution_timeout_ms;
  t->parent_id = twi_dupstr(p->parent_id);
  t->priority = p->priority;
}

void tw_leased_tasks_free(tw_leased_task *tasks, size_t count) {
  if (tasks == NULL) return;
  for (size_t i = 0; i < count; i++) {
    tw_leased_task *t = &tasks[i];
    free(t->id);
    free(t->queue);
    free(t->type);
    free(t->payload);
    free(t->content_type);
    free(t->lease_token);
    free(t->parent_id);
  }
  free(tasks);
}

/* ---- client calls ------------------------------------------------------------------------- */

int tw_submit(tw_client *c, const tw_task_spec *s, tw_task *out, int *existing, tw_status *st) {
  if (s == NULL || s->type == NULL || *s->type == '\0')
    return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "a task needs a type");
  Taskwire__V1__TaskSpec spec = TASKWIRE__V1__TASK_SPEC__INIT;
  spec.queue = twi_str(s->queue);
  spec.type = twi_str(s->type);
  spec.payload.data = (uint8_t *)s->payload;
  spec.payload.len = s->payload ? s->payload_len : 0;
  spec.content_type = twi_str(s->content_type);
  spec.priority = s->priority;
  spec.run_at_ms = s->run_at_ms;
  spec.delay_ms = s->delay_ms;
  spec.idempotency_key = twi_str(s->idempotency_key);
  spec.max_attempts = s->max_attempts;
  spec.lease_duration_ms = s->lease_duration_ms;
  spec.execution_timeout_ms = s->execution_timeout_ms;
  spec.parent_id = twi_str(s->parent_id);
  spec.clean_on_success = s->clean_on_success ? 1 : 0;
  Taskwire__V1__RetryPolicy rp = TASKWIRE__V1__RETRY_POLICY__INIT;
  if (s->retry_kind != 0) {
    rp.kind = (Taskwire__V1__RetryKind)s->retry_kind;
    rp.initial_ms = s->retry_initial_ms;
    rp.multiplier = s->retry_multiplier;
    rp.max_ms = s->retry_max_ms;
    rp.jitter = s->retry_jitter;
    spec.retry_policy = &rp;
  }
  Taskwire__V1__TaskSpec__MetadataEntry *entries = NULL;
  Taskwire__V1__TaskSpec__MetadataEntry **entry_ptrs = NULL;
  if (s->metadata_count > 0) {
    entries = calloc(s->metadata_count, sizeof *entries);
    entry_ptrs = calloc(s->metadata_count, sizeof *entry_ptrs);
    if (entries == NULL || entry_ptrs == NULL) {
      free(entries);
      free(entry_ptrs);
      return twi_set_status(st, TW_INTERNAL, 1, "out of memory");
    }
    for (size_t i = 0; i < s->metadata_count; i++) {
      taskwire__v1__task_spec__metadata_entry__init(&entries[i]);
      entries[i].key = twi_str(s->metadata_keys[i]);
      entries[i].value = twi_str(s->metadata_values[i]);
      entry_ptrs[i] = &entries[i];
    }
    spec.n_metadata = s->metadata_count;
    spec.metadata = entry_ptrs;
  }
  Taskwire__V1__SubmitRequest req = TASKWIRE__V1__SUBMIT_REQUEST__INIT;
  req.task = &spec;
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_SUBMIT_REQUEST;
  f.submit_request = &req;
  Frame *r = NULL;
  int rc = twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_SUBMIT_RESPONSE, &r, st);
  free(entries);
  free(entry_ptrs);
  if (rc != 0) return -1;
  if (out) twi_task_from_proto(out, r->submit_response->task);
  if (existing) *existing = r->submit_response->existing ? 1 : 0;
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_get(tw_client *c, const char *task_id, tw_task *out, tw_status *st) {
  Taskwire__V1__GetRequest req = TASKWIRE__V1__GET_REQUEST__INIT;
  req.id = twi_str(task_id);
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_GET_REQUEST;
  f.get_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_GET_RESPONSE, &r, st) != 0) return -1;
  if (out) twi_task_from_proto(out, r->get_response->task);
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_cancel(tw_client *c, const char *task_id, const char *reason, tw_task *out, tw_status *st) {
  Taskwire__V1__CancelRequest req = TASKWIRE__V1__CANCEL_REQUEST__INIT;
  req.id = twi_str(task_id);
  req.reason = twi_str(reason);
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_CANCEL_REQUEST;
  f.cancel_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_CANCEL_RESPONSE, &r, st) != 0) return -1;
  if (out) twi_task_from_proto(out, r->cancel_response->task);
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_health(tw_client *c, int *ready, tw_status *st) {
  Taskwire__V1__HealthRequest req = TASKWIRE__V1__HEALTH_REQUEST__INIT;
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_HEALTH_REQUEST;
  f.health_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_HEALTH_RESPONSE, &r, st) != 0) return -1;
  if (ready) *ready = r->health_response->ready ? 1 : 0;
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

/* ---- worker calls ------------------------------------------------------------------------- */

int tw_lease(tw_client *c, const tw_lease_request *lr, tw_leased_task **tasks, size_t *count,
             tw_status *st) {
  *tasks = NULL;
  *count = 0;
  Taskwire__V1__LeaseRequest req = TASKWIRE__V1__LEASE_REQUEST__INIT;
  req.n_queues = lr->queues_count;
  req.queues = (char **)lr->queues;
  req.n_types = lr->types_count;
  req.types = (char **)lr->types;
  req.max_tasks = lr->max_tasks;
  req.wait_ms = lr->wait_ms;
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_LEASE_REQUEST;
  f.lease_request = &req;
  Frame *r = NULL;
  if (twi_call_ex(c, &f, TASKWIRE__V1__FRAME__BODY_LEASE_RESPONSE, 1, &r, st) != 0) return -1;
  Taskwire__V1__LeaseResponse *lresp = r->lease_response;
  if (lresp->n_tasks > 0) {
    *tasks = calloc(lresp->n_tasks, sizeof **tasks);
    if (*tasks == NULL) {
      taskwire__v1__frame__free_unpacked(r, NULL);
      return twi_set_status(st, TW_INTERNAL, 1, "out of memory");
    }
    for (size_t i = 0; i < lresp->n_tasks; i++) leased_from_proto(&(*tasks)[i], lresp->tasks[i]);
    *count = lresp->n_tasks;
  }
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_heartbeat(tw_client *c, const char *task_id, const char *lease_token, int percent,
                 const char *message, int64_t *lease_deadline_ms, int *cancel_requested,
                 tw_status *st) {
  Taskwire__V1__Progress prog = TASKWIRE__V1__PROGRESS__INIT;
  Taskwire__V1__HeartbeatRequest req = TASKWIRE__V1__HEARTBEAT_REQUEST__INIT;
  req.task_id = twi_str(task_id);
  req.lease_token = twi_str(lease_token);
  if (percent >= 0) {
    prog.percent = percent;
    prog.message = twi_str(message);
    req.progress = &prog;
  }
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_HEARTBEAT_REQUEST;
  f.heartbeat_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_HEARTBEAT_RESPONSE, &r, st) != 0) return -1;
  if (lease_deadline_ms) *lease_deadline_ms = r->heartbeat_response->lease_deadline_ms;
  if (cancel_requested) *cancel_requested = r->heartbeat_response->cancel_requested ? 1 : 0;
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_complete(tw_client *c, const char *task_id, const char *lease_token, const void *result,
                size_t result_len, const char *content_type, tw_status *st) {
  Taskwire__V1__CompleteRequest req = TASKWIRE__V1__COMPLETE_REQUEST__INIT;
  req.task_id = twi_str(task_id);
  req.lease_token = twi_str(lease_token);
  req.result.data = (uint8_t *)result;
  req.result.len = result ? result_len : 0;
  req.content_type = twi_str(content_type);
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_COMPLETE_REQUEST;
  f.complete_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_COMPLETE_RESPONSE, &r, st) != 0) return -1;
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_fail(tw_client *c, const char *task_id, const char *lease_token, const char *error,
            int permanent, int64_t retry_after_ms, int *state, int64_t *next_run_ms,
            tw_status *st) {
  Taskwire__V1__FailRequest req = TASKWIRE__V1__FAIL_REQUEST__INIT;
  req.task_id = twi_str(task_id);
  req.lease_token = twi_str(lease_token);
  req.error = twi_str(error);
  req.permanent = permanent ? 1 : 0;
  req.retry_after_ms = retry_after_ms;
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_FAIL_REQUEST;
  f.fail_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_FAIL_RESPONSE, &r, st) != 0) return -1;
  if (state) *state = (int)r->fail_response->state;
  if (next_run_ms) *next_run_ms = r->fail_response->next_run_ms;
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_release(tw_client *c, const char *task_id, const char *lease_token, tw_status *st) {
  Taskwire__V1__ReleaseRequest req = TASKWIRE__V1__RELEASE_REQUEST__INIT;
  req.task_id = twi_str(task_id);
  req.lease_token = twi_str(lease_token);
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_RELEASE_REQUEST;
  f.release_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_RELEASE_RESPONSE, &r, st) != 0) return -1;
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

int tw_cancel_ack(tw_client *c, const char *task_id, const char *lease_token, const char *message,
                  tw_status *st) {
  Taskwire__V1__CancelAckRequest req = TASKWIRE__V1__CANCEL_ACK_REQUEST__INIT;
  req.task_id = twi_str(task_id);
  req.lease_token = twi_str(lease_token);
  req.message = twi_str(message);
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.body_case = TASKWIRE__V1__FRAME__BODY_CANCEL_ACK_REQUEST;
  f.cancel_ack_request = &req;
  Frame *r = NULL;
  if (twi_unary_call(c, &f, TASKWIRE__V1__FRAME__BODY_CANCEL_ACK_RESPONSE, &r, st) != 0) return -1;
  taskwire__v1__frame__free_unpacked(r, NULL);
  return 0;
}

/* ---- development setup -------------------------------------------------------------------- */

static char *read_trimmed(const char *path, tw_status *st) {
  FILE *fp = fopen(path, "r");
  if (fp == NULL) {
    twi_set_status(st, TW_INVALID_ARGUMENT, 1, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = '\0';
  if (n == 0) {
    twi_set_status(st, TW_INVALID_ARGUMENT, 1, "%s is empty", path);
    return NULL;
  }
  return strdup(buf);
}

int tw_read_dev_setup(const char *dir, char **address, char **token, char **ca_file,
                      tw_status *st) {
  char path[4096];
  if (address) {
    snprintf(path, sizeof path, "%s/address", dir);
    if ((*address = read_trimmed(path, st)) == NULL) return -1;
  }
  if (token) {
    snprintf(path, sizeof path, "%s/admin.token", dir);
    if ((*token = read_trimmed(path, st)) == NULL) {
      if (address) {
        free(*address);
        *address = NULL;
      }
      return -1;
    }
  }
  if (ca_file) {
    snprintf(path, sizeof path, "%s/tls/ca.pem", dir);
    *ca_file = strdup(path);
  }
  twi_status_ok(st);
  return 0;
}

/*
 * The watch stream (tw_watch): one call whose events arrive until the server ends it or the
 * callback asks to stop (then cancel_call, and the stream's end is awaited). Built on the call
 * machinery (callmachine.c). See include/taskwire.h for the API.
 */
#include "tw_client.h"

/* ---- watch -------------------------------------------------------------------------------- */

int tw_watch(tw_client *c, const tw_watch_request *w, tw_watch_fn fn, void *user,
             uint64_t *last_sequence, tw_status *st) {
  if (w == NULL || fn == NULL) return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "no request or callback");
  if (twi_check_usable(c, st) != 0) return -1;
  Taskwire__V1__TaskFilter filter = TASKWIRE__V1__TASK_FILTER__INIT;
  Taskwire__V1__WatchRequest req = TASKWIRE__V1__WATCH_REQUEST__INIT;
  req.n_task_ids = w->task_ids_count;
  req.task_ids = (char **)w->task_ids;
  if (w->queues_count > 0 || w->types_count > 0) {
    filter.n_queues = w->queues_count;
    filter.queues = (char **)w->queues;
    filter.n_types = w->types_count;
    filter.types = (char **)w->types;
    req.filter = &filter;
  }
  req.after_sequence = w->after_sequence;
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.call_id = c->next_call_id++;
  f.body_case = TASKWIRE__V1__FRAME__BODY_WATCH_REQUEST;
  f.watch_request = &req;
  if (twi_send_frame(c, &f, st) != 0) return -1;

  int cancel_sent = 0, stopped = 0;
  for (;;) {
    Frame *r = NULL;
    if (twi_wait_call_frame(c, f.call_id, 1, &cancel_sent, &r, st) != 0) return -1;
    if (r->body_case == TASKWIRE__V1__FRAME__BODY_WATCH_EVENT && r->watch_event) {
      const Taskwire__V1__WatchEvent *e = r->watch_event;
      if (last_sequence && e->sequence > *last_sequence) *last_sequence = e->sequence;
      if (!stopped) {
        tw_task snap;
        int have_snap = e->task != NULL;
        if (have_snap) twi_task_from_proto(&snap, e->task);
        tw_watch_event ev = {
            .sequence = e->sequence, .task_id = e->task_id, .kind = (int)e->kind,
            .state = (int)e->state, .attempt = e->attempt, .progress = e->progress,
            .message = e->message, .error = e->error, .result_size = e->result_size,
            .time_ms = e->time_ms, .queue = e->queue, .type = e->type,
            .next_run_ms = e->next_run_ms, .task = have_snap ? &snap : NULL};
        int stop = fn(&ev, user);
        if (have_snap) tw_task_clear(&snap);
        if (stop) {
          stopped = 1;
          if (!cancel_sent) {
            if (twi_send_cancel_call(c, f.call_id, st) != 0) {
              taskwire__v1__frame__free_unpacked(r, NULL);
              return -1;
            }
            cancel_sent = 1;
          }
        }
      }
      taskwire__v1__frame__free_unpacked(r, NULL);
      continue;
    }
    if (r->body_case == TASKWIRE__V1__FRAME__BODY_STREAM_END) {
      const Taskwire__V1__Status *s = r->stream_end ? r->stream_end->status : NULL;
      int code = s ? (int)s->code : TW_OK;
      if (code == TW_OK || (stopped && code == TW_CANCELLED)) {
        twi_status_ok(st);
        taskwire__v1__frame__free_unpacked(r, NULL);
        return 0;
      }
      twi_status_from_proto(st, s);
      taskwire__v1__frame__free_unpacked(r, NULL);
      return -1;
    }
    if (r->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) { /* not per the doc, but be robust */
      twi_status_from_proto(st, r->error);
      taskwire__v1__frame__free_unpacked(r, NULL);
      return -1;
    }
    int got = (int)r->body_case;
    taskwire__v1__frame__free_unpacked(r, NULL);
    return twi_set_status(st, TW_INTERNAL, 1, "unexpected frame in a watch stream (body field %d)", got);
  }
}

/*
 * The call machinery: assigning call ids, sending a request and waiting for its answer while
 * handling pushed frames, cancelling an interrupted call. The API calls in calls.c use it.
 */
#include "tw_client.h"

/* ---- call machinery ----------------------------------------------------------------------- */

int twi_send_cancel_call(tw_client *c, uint64_t call_id, tw_status *st) {
  Taskwire__V1__CancelCall cc = TASKWIRE__V1__CANCEL_CALL__INIT;
  Frame out = TASKWIRE__V1__FRAME__INIT;
  out.call_id = call_id;
  out.body_case = TASKWIRE__V1__FRAME__BODY_CANCEL_CALL;
  out.cancel_call = &cc;
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
    if (twi_mono_ms() - c->last_send_ms >= c->ping_interval_ms) {
      if (twi_send_ping(c, ++c->next_nonce, st) != 0) return -1;
    }
    Frame *f = NULL;
    int r = twi_read_frame(c, TW_WAIT_TICK_MS, &f, st);
    if (r < 0) return -1;
    if (r == 0) continue;
    if (f->call_id == 0) {
      int h = twi_handle_push(c, f, st);
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

/*
 * Frames the server pushes (call_id 0): pings, cancel notices, go-away, connection errors; and the
 * API that waits only for them: tw_ping, tw_poll and the cancel-notice queue.
 */
#include <stdlib.h>
#include <string.h>

#include "tw_client.h"

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
int twi_handle_push(tw_client *c, const Frame *f, tw_status *st) {
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
      twi_mark_broken(c);
      return -1;
    default:
      return 0; /* pongs and frames of newer servers: ignored */
  }
}

int twi_send_ping(tw_client *c, uint64_t nonce, tw_status *st) {
  Taskwire__V1__Ping ping = TASKWIRE__V1__PING__INIT;
  ping.nonce = nonce;
  Frame out = TASKWIRE__V1__FRAME__INIT;
  out.call_id = 0;
  out.body_case = TASKWIRE__V1__FRAME__BODY_PING;
  out.ping = &ping;
  return twi_send_frame(c, &out, st);
}

/* ---- pings, polling, notices ----------------------------------------------------------------- */

int tw_ping(tw_client *c, tw_status *st) {
  if (twi_check_usable(c, st) != 0) return -1;
  uint64_t nonce = ++c->next_nonce;
  if (twi_send_ping(c, nonce, st) != 0) return -1;
  int64_t deadline = twi_mono_ms() + 30000;
  for (;;) {
    int64_t left = deadline - twi_mono_ms();
    if (left <= 0) return twi_set_status(st, TW_DEADLINE_EXCEEDED, 1, "no pong within 30 s");
    Frame *f = NULL;
    int r = twi_read_frame(c, (int)left, &f, st);
    if (r < 0) return -1;
    if (r == 0) continue;
    int done = f->call_id == 0 && f->body_case == TASKWIRE__V1__FRAME__BODY_PONG && f->pong &&
               f->pong->nonce == nonce;
    int h = f->call_id == 0 ? twi_handle_push(c, f, st) : 0;
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
  int64_t deadline = twi_mono_ms() + timeout_ms;
  for (;;) {
    if (twi_mono_ms() - c->last_send_ms >= c->ping_interval_ms) {
      if (twi_send_ping(c, ++c->next_nonce, st) != 0) return -1;
    }
    int64_t left = deadline - twi_mono_ms();
    if (left <= 0) break;
    if (c->interrupt_flag && *c->interrupt_flag) break;
    Frame *f = NULL;
    int r = twi_read_frame(c, (int)(left < TW_WAIT_TICK_MS ? left : TW_WAIT_TICK_MS), &f, st);
    if (r < 0) return -1;
    if (r == 0) continue;
    int h = f->call_id == 0 ? twi_handle_push(c, f, st) : 0;
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

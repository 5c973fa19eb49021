/*
 * Statuses and names (codes, roles, states, event kinds), and the time and string helpers every
 * file of the client uses. See include/taskwire.h for the API.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tw_client.h"

/* ---- small helpers ------------------------------------------------------------------------ */

int64_t tw_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t twi_mono_ms(void) {
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

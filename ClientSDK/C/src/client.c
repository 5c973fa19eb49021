/*
 * The blocking Taskwire client's connection: TCP connect, TLS, hello, close and the accessors.
 * Frame I/O is in io.c, pushed frames in push.c, the call machinery in callmachine.c, the API calls
 * in calls.c, statuses and names in status.c.
 * See include/taskwire.h for the API and docs/protocol.md for the protocol.
 */
#define _GNU_SOURCE
#include "taskwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tw_client.h"


/* ---- connect ------------------------------------------------------------------------------ */

static int split_address(const char *addr, char *host, size_t hl, char *port, size_t pl) {
  if (addr == NULL || *addr == '\0') return -1;
  if (addr[0] == '[') {
    const char *end = strchr(addr, ']');
    if (end == NULL || end[1] != ':') return -1;
    size_t n = (size_t)(end - addr - 1);
    if (n == 0 || n >= hl) return -1;
    memcpy(host, addr + 1, n);
    host[n] = '\0';
    snprintf(port, pl, "%s", end + 2);
  } else {
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) return -1;
    size_t n = (size_t)(colon - addr);
    if (n == 0 || n >= hl) return -1;
    memcpy(host, addr, n);
    host[n] = '\0';
    snprintf(port, pl, "%s", colon + 1);
  }
  return *port ? 0 : -1;
}

static int tcp_connect(const char *host, const char *port, int64_t deadline, tw_status *st) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0) {
    twi_set_status(st, TW_UNAVAILABLE, 1, "cannot resolve %s:%s: %s", host, port, gai_strerror(gai));
    return -1;
  }
  int fd = -1;
  char last_err[128] = "no address";
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      int64_t left = deadline - twi_mono_ms();
      if (left > 0 && twi_wait_fd(fd, POLLOUT, (int)left) == 1) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr == 0) r = 0;
        else errno = soerr;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (r == 0) break;
    snprintf(last_err, sizeof last_err, "%s", strerror(errno));
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) twi_set_status(st, TW_UNAVAILABLE, 1, "cannot connect to %s:%s: %s", host, port, last_err);
  return fd;
}

static int tls_setup(tw_client *c, const tw_options *o, const char *host, int64_t deadline,
                     tw_status *st) {
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (c->ctx == NULL) return twi_set_status(st, TW_INTERNAL, 1, "SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(c->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1) {
    char msg[256];
    twi_ssl_error_text(msg, sizeof msg);
    return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "cannot load CA file %s: %s", o->ca_file, msg);
  }
  SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
  if (o->cert_file && *o->cert_file) {
    const char *key = (o->key_file && *o->key_file) ? o->key_file : o->cert_file;
    if (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ctx) != 1) {
      char msg[256];
      twi_ssl_error_text(msg, sizeof msg);
      return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "cannot load client certificate %s: %s",
                        o->cert_file, msg);
    }
  }
  c->ssl = SSL_new(c->ctx);
  if (c->ssl == NULL) return twi_set_status(st, TW_INTERNAL, 1, "SSL_new failed");
  if (twi_ssl_attach_socket(c, st) != 0) return -1;

  /* Verify the certificate for the host we connect to: an IP literal or a DNS name. */
  X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
  unsigned char ipbuf[16];
  int is_ip = inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
      return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "bad IP address %s", host);
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
      return twi_set_status(st, TW_INVALID_ARGUMENT, 1, "bad host name %s", host);
    SSL_set_tlsext_host_name(c->ssl, host);
  }

  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_connect(c->ssl);
    if (r == 1) break;
    int err = SSL_get_error(c->ssl, r);
    int64_t left = deadline - twi_mono_ms();
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && left > 0) {
      twi_wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, (int)left);
      continue;
    }
    if (left <= 0) return twi_set_status(st, TW_DEADLINE_EXCEEDED, 1, "TLS handshake timed out");
    long vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK) {
      return twi_set_status(st, TW_UNAVAILABLE, 1, "server certificate rejected: %s",
                        X509_verify_cert_error_string(vr));
    }
    char msg[256];
    twi_ssl_error_text(msg, sizeof msg);
    return twi_set_status(st, TW_UNAVAILABLE, 1, "TLS handshake failed: %s", msg);
  }
  return 0;
}

static int do_hello(tw_client *c, const tw_options *o, int64_t deadline, tw_status *st) {
  Taskwire__V1__Hello hello = TASKWIRE__V1__HELLO__INIT;
  hello.protocol_version = 1;
  hello.token = twi_str(o->token);
  hello.client_name = twi_str(o->client_name ? o->client_name : "taskwire-c");
  hello.instance_id = twi_str(o->instance_id);
  Frame f = TASKWIRE__V1__FRAME__INIT;
  f.call_id = 0;
  f.body_case = TASKWIRE__V1__FRAME__BODY_HELLO;
  f.hello = &hello;
  if (twi_send_frame(c, &f, st) != 0) return -1;
  for (;;) {
    int64_t left = deadline - twi_mono_ms();
    if (left <= 0) return twi_set_status(st, TW_DEADLINE_EXCEEDED, 1, "no hello reply in time");
    Frame *r = NULL;
    int rr = twi_read_frame(c, (int)left, &r, st);
    if (rr < 0) return -1;
    if (rr == 0) continue;
    if (r->call_id == 0 && r->body_case == TASKWIRE__V1__FRAME__BODY_HELLO_REPLY) {
      Taskwire__V1__HelloReply *h = r->hello_reply;
      c->role = (int)h->role;
      c->server_version = twi_dupstr(h->server_version);
      c->connection_id = twi_dupstr(h->connection_id);
      if (h->limits) {
        if (h->limits->max_frame_bytes) c->limits.max_frame_bytes = h->limits->max_frame_bytes;
        c->limits.max_payload_bytes = h->limits->max_payload_bytes;
        c->limits.max_concurrent_calls = h->limits->max_concurrent_calls;
        c->limits.heartbeat_interval_ms = h->limits->heartbeat_interval_ms;
        c->limits.idle_timeout_ms = h->limits->idle_timeout_ms;
      }
      c->reader.max_frame = c->limits.max_frame_bytes;
      taskwire__v1__frame__free_unpacked(r, NULL);
      return 0;
    }
    if (r->call_id == 0 && r->body_case == TASKWIRE__V1__FRAME__BODY_ERROR) {
      twi_status_from_proto(st, r->error);
      taskwire__v1__frame__free_unpacked(r, NULL);
      twi_mark_broken(c);
      return -1;
    }
    int h = r->call_id == 0 ? twi_handle_push(c, r, st) : 0;
    taskwire__v1__frame__free_unpacked(r, NULL);
    if (h != 0) return -1;
  }
}

tw_client *tw_connect(const tw_options *o, tw_status *st) {
  if (o == NULL || o->address == NULL || o->ca_file == NULL || o->token == NULL) {
    twi_set_status(st, TW_INVALID_ARGUMENT, 1, "address, ca_file and token are required");
    return NULL;
  }
  char host[256], port[32];
  if (split_address(o->address, host, sizeof host, port, sizeof port) != 0) {
    twi_set_status(st, TW_INVALID_ARGUMENT, 1, "bad address '%s' (want host:port or [v6]:port)",
               o->address);
    return NULL;
  }
  tw_client *c = calloc(1, sizeof *c);
  if (c == NULL) {
    twi_set_status(st, TW_INTERNAL, 1, "out of memory");
    return NULL;
  }
  c->fd = -1;
  c->next_call_id = 1;
  c->limits.max_frame_bytes = TW_DEFAULT_MAX_FRAME_BYTES;
  c->ping_interval_ms = o->ping_interval_ms > 0 ? o->ping_interval_ms : 100000;
  c->interrupt_flag = o->interrupt_flag;
  tw_frame_reader_init(&c->reader, TW_DEFAULT_MAX_FRAME_BYTES);
  int64_t deadline = twi_mono_ms() + (o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000);
  c->fd = tcp_connect(host, port, deadline, st);
  if (c->fd < 0 || tls_setup(c, o, host, deadline, st) != 0 || do_hello(c, o, deadline, st) != 0) {
    tw_close(c);
    return NULL;
  }
  twi_status_ok(st);
  return c;
}

void tw_close(tw_client *c) {
  if (c == NULL) return;
  if (c->ssl) {
    /* Best effort close_notify; never block on it (nor raise SIGPIPE: see io.c's write BIO). */
    if (!c->broken) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
  }
  if (c->ctx) SSL_CTX_free(c->ctx);
  if (c->fd >= 0) close(c->fd);
  tw_frame_reader_free(&c->reader);
  while (c->notice_count > 0) {
    tw_cancel_notice_clear(&c->notices[c->notice_head]);
    c->notice_head = (c->notice_head + 1) % TW_MAX_NOTICES;
    c->notice_count--;
  }
  free(c->server_version);
  free(c->connection_id);
  free(c);
}

int tw_client_role(const tw_client *c) { return c->role; }
const tw_limits *tw_client_limits(const tw_client *c) { return &c->limits; }
const char *tw_client_server_version(const tw_client *c) { return c->server_version; }
const char *tw_client_connection_id(const tw_client *c) { return c->connection_id; }
int tw_client_going_away(const tw_client *c) { return c->going_away; }

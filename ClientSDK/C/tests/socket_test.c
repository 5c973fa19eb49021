/*
 * Unit test for the socket's write BIO (io.c): a TLS write to a peer that has closed must be an
 * error return (EPIPE), never a SIGPIPE. SIGPIPE keeps its default action here, so a signal would
 * end the test. No server needed: the peer is the closed end of a socketpair, and the writes are the
 * ClientHello of SSL_connect and writes to the BIO itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tw_client.h"

#include "check.h"

/* An SSL on one end of a socketpair, its BIOs from twi_ssl_attach_socket; *peer is the other end. */
static int make_client(tw_client *c, int *peer) {
  int sv[2];
  memset(c, 0, sizeof *c);
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
  c->fd = sv[0];
  *peer = sv[1];
  c->ctx = SSL_CTX_new(TLS_client_method());
  c->ssl = c->ctx ? SSL_new(c->ctx) : NULL;
  if (c->ssl == NULL) return -1;
  tw_status st;
  return twi_ssl_attach_socket(c, &st);
}

static void free_client(tw_client *c, int peer) {
  SSL_free(c->ssl);
  SSL_CTX_free(c->ctx);
  close(c->fd);
  if (peer >= 0) close(peer);
}

static void test_closed_peer(void) {
  tw_client c;
  int peer = -1;
  CHECK(make_client(&c, &peer) == 0);
  CHECK(SSL_get_wfd(c.ssl) == c.fd);
  CHECK(SSL_get_rfd(c.ssl) == c.fd);
  close(peer); /* the peer is gone before the first byte */
  peer = -1;
  ERR_clear_error();
  errno = 0;
  int r = SSL_connect(c.ssl);
  CHECK(r <= 0);
  CHECK(SSL_get_error(c.ssl, r) == SSL_ERROR_SYSCALL);
  CHECK(errno == EPIPE);
  ERR_clear_error();
  free_client(&c, peer);
}

/* The write BIO itself: a full socket is a retryable write (as with BIO_s_socket), a closed peer a
 * plain error with errno EPIPE. */
static void test_bio_write(void) {
  tw_client c;
  int peer = -1;
  CHECK(make_client(&c, &peer) == 0);
  CHECK(fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK) == 0);
  BIO *wb = SSL_get_wbio(c.ssl);
  CHECK(wb != NULL && wb != SSL_get_rbio(c.ssl));
  static char chunk[65536];
  int r = 0;
  for (int i = 0; i < 10000; i++) {
    r = BIO_write(wb, chunk, (int)sizeof chunk);
    if (r <= 0) break;
  }
  CHECK(r == -1);
  CHECK(BIO_should_retry(wb) && BIO_should_write(wb));
  close(peer);
  peer = -1;
  errno = 0;
  r = BIO_write(wb, chunk, 1);
  CHECK(r == -1);
  CHECK(errno == EPIPE);
  CHECK(!BIO_should_retry(wb));
  CHECK(BIO_flush(wb) == 1);
  free_client(&c, peer);
}

int main(void) {
  signal(SIGPIPE, SIG_DFL);
  test_closed_peer();
  test_bio_write();
  if (failures) {
    fprintf(stderr, "socket_test: %d check(s) failed\n", failures);
    return 1;
  }
  printf("socket_test: all checks passed (no SIGPIPE)\n");
  return 0;
}

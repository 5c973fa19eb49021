#define _GNU_SOURCE
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *example_conn_usage =
    "connection (flags > environment > data dir):\n"
    "  --address HOST:PORT   or TASKWIRE_ADDRESS, or DATA_DIR/address\n"
    "  --ca FILE             or TASKWIRE_CA, or DATA_DIR/tls/ca.pem\n"
    "  --token TOKEN         or TASKWIRE_TOKEN, or DATA_DIR/admin.token\n"
    "  --data-dir DIR        or TASKWIRE_DATA_DIR: the server's data directory (dev setup files)\n";

static int take(char **slot, int argc, char **argv, int *i) {
  if (*i + 1 >= argc) return -1;
  free(*slot);
  *slot = strdup(argv[++*i]);
  return 1;
}

int example_conn_flag(example_conn *ec, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--address") == 0) return take(&ec->address, argc, argv, i);
  if (strcmp(a, "--ca") == 0) return take(&ec->ca_file, argc, argv, i);
  if (strcmp(a, "--token") == 0) return take(&ec->token, argc, argv, i);
  if (strcmp(a, "--data-dir") == 0) return take(&ec->data_dir, argc, argv, i);
  return 0;
}

static void from_env(char **slot, const char *name) {
  const char *v = getenv(name);
  if (*slot == NULL && v != NULL && *v != '\0') *slot = strdup(v);
}

int example_conn_resolve(example_conn *ec, const char *prog) {
  from_env(&ec->address, "TASKWIRE_ADDRESS");
  from_env(&ec->ca_file, "TASKWIRE_CA");
  from_env(&ec->token, "TASKWIRE_TOKEN");
  from_env(&ec->data_dir, "TASKWIRE_DATA_DIR");
  if (ec->data_dir != NULL) {
    tw_status st;
    char *addr = NULL, *tok = NULL, *ca = NULL;
    if (tw_read_dev_setup(ec->data_dir, ec->address ? NULL : &addr, ec->token ? NULL : &tok,
                          ec->ca_file ? NULL : &ca, &st) != 0) {
      fprintf(stderr, "%s: %s\n", prog, st.message);
      return -1;
    }
    if (addr) ec->address = addr;
    if (tok) ec->token = tok;
    if (ca) ec->ca_file = ca;
  }
  if (ec->address == NULL || ec->ca_file == NULL || ec->token == NULL) {
    fprintf(stderr, "%s: need an address, a CA file and a token\n%s", prog, example_conn_usage);
    return -1;
  }
  return 0;
}

void example_conn_free(example_conn *ec) {
  free(ec->address);
  free(ec->ca_file);
  free(ec->token);
  free(ec->data_dir);
  memset(ec, 0, sizeof *ec);
}

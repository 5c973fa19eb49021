/* Connection settings shared by the examples: flags > TASKWIRE_* environment > --data-dir files. */
#ifndef TW_EXAMPLE_OPTIONS_H
#define TW_EXAMPLE_OPTIONS_H

#include "taskwire.h"

typedef struct example_conn {
  char *address;
  char *ca_file;
  char *token;
  char *data_dir;
} example_conn;

/* If argv[*i] is one of --address/--ca/--token/--data-dir (with its value in argv[*i+1]), stores it,
 * advances *i and returns 1; returns -1 when the value is missing, 0 for other arguments. */
int example_conn_flag(example_conn *ec, int argc, char **argv, int *i);
/* Fills what flags left open from TASKWIRE_ADDRESS, TASKWIRE_CA, TASKWIRE_TOKEN, TASKWIRE_DATA_DIR,
 * then from the data dir's dev files. Prints an error and returns -1 when something is missing. */
int example_conn_resolve(example_conn *ec, const char *prog);
void example_conn_free(example_conn *ec);
extern const char *example_conn_usage;

#endif

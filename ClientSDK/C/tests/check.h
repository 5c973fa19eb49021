/* The C tests' one assertion: counts a failed condition and reports where, without stopping. */
#ifndef TW_TEST_CHECK_H
#define TW_TEST_CHECK_H

#include <stdio.h>

static int failures = 0;
#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                       \
    }                                                                   \
  } while (0)

#endif

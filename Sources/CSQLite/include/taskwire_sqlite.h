#include "sqlite3.h"

/// Turns off SQLite's memory statistics, which take a global mutex on every allocation. Must run
/// before the first connection opens; later it returns SQLITE_MISUSE and changes nothing.
static inline int taskwire_sqlite3_disable_memstatus(void) {
  return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/// Gives connection `db` `count` lookaside slots of `size` bytes (small allocations without
/// malloc). Must run before the connection prepares a statement.
static inline int taskwire_sqlite3_lookaside(sqlite3 *db, int size, int count) {
  return sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, (void *)0, size, count);
}

/// Turns on the query planner stability guarantee for connection `db`: a statement's plan
/// never depends on the values bound to it. Without it, a statement with `LIMIT ?` is marked
/// for re-preparing by every `sqlite3_clear_bindings`, so the writer re-parsed and re-planned
/// its lease query on every lease.
static inline int taskwire_sqlite3_stable_plans(sqlite3 *db) {
  return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, (int *)0);
}

#if defined(__linux__)
#include <sys/random.h>

/// Fills `buffer` with `length` bytes from the kernel's secure generator (lease tokens, read in
/// bulk by the writer). Returns the bytes written, or -1 with errno set.
static inline long taskwire_getrandom(void *buffer, unsigned long length) {
  return (long)getrandom(buffer, length, 0);
}
#endif

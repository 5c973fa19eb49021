#include <sqlite3.h>

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

#pragma once
// A SQLite VFS for power-cut tests. It wraps "unix": for every file it opens, writes (and
// truncations) are kept aside in memory, as an OS page cache would hold them, and reach the
// real file only when SQLite syncs that file (xSync). A "power cut" throws away every write not
// yet synced and makes all later I/O through this VFS fail, so the connections are dead; the
// test then reopens the files with the normal VFS and sees exactly what was made durable.
// This is how SQLite's own crash tests model power loss (test6.c).

#ifdef __cplusplus
extern "C" {
#endif

/// Registers a crash VFS under `name` (not as the default). Returns SQLITE_OK (0) or an error.
int taskwire_crash_vfs_register(const char *name);

/// Power cut: discards every unsynced write of every file open through a crash VFS; from now on
/// their I/O fails (reads, writes, syncs, locks, deletes) until `taskwire_crash_vfs_reset`.
void taskwire_crash_vfs_power_cut(void);

/// Powers back on: later opens and I/O through a crash VFS work again.
void taskwire_crash_vfs_reset(void);

/// Models `fdatasync` of one file from a second descriptor: applies the unsynced writes of the
/// open file(s) with this path and syncs the real file. Returns 0, or -1 after a power cut.
int taskwire_crash_vfs_sync_path(const char *path);

/// How many xSync calls reached the real files since the process started.
long taskwire_crash_vfs_sync_count(void);

/// How many writes are currently held unsynced, over all open files.
long taskwire_crash_vfs_pending_writes(void);

#ifdef __cplusplus
}
#endif

// See include/crash_vfs.h.
#include "crash_vfs.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

typedef struct PendingOp {
  int isTruncate;
  sqlite3_int64 offset;  // write offset, or the new size for a truncate
  int amount;
  unsigned char *data;
  struct PendingOp *next;
} PendingOp;

typedef struct CrashFile {
  sqlite3_file base;
  sqlite3_file *real;
  char *path;  // realpath of the file, or NULL (temporary files)
  PendingOp *head;
  PendingOp *tail;
  long pendingCount;
  struct CrashFile *prevOpen;
  struct CrashFile *nextOpen;
} CrashFile;

static pthread_mutex_t gLock = PTHREAD_MUTEX_INITIALIZER;
static CrashFile *gOpenFiles = NULL;
static int gPowerCut = 0;
static long gSyncCount = 0;
static sqlite3_vfs *gUnix = NULL;

#define REAL(f) (((CrashFile *)(f))->real)

static void freeOps(CrashFile *f) {
  PendingOp *op = f->head;
  while (op) {
    PendingOp *next = op->next;
    free(op->data);
    free(op);
    op = next;
  }
  f->head = f->tail = NULL;
  f->pendingCount = 0;
}

static int appendOp(CrashFile *f, int isTruncate, sqlite3_int64 offset, const void *data, int amount) {
  PendingOp *op = calloc(1, sizeof(PendingOp));
  if (!op) return SQLITE_NOMEM;
  op->isTruncate = isTruncate;
  op->offset = offset;
  op->amount = amount;
  if (!isTruncate && amount > 0) {
    op->data = malloc((size_t)amount);
    if (!op->data) {
      free(op);
      return SQLITE_NOMEM;
    }
    memcpy(op->data, data, (size_t)amount);
  }
  if (f->tail) f->tail->next = op; else f->head = op;
  f->tail = op;
  f->pendingCount++;
  return SQLITE_OK;
}

// Applies the unsynced operations to the real file (the "disk"), in order. Lock held.
static int applyOps(CrashFile *f) {
  int rc = SQLITE_OK;
  for (PendingOp *op = f->head; op && rc == SQLITE_OK; op = op->next) {
    if (op->isTruncate) {
      rc = f->real->pMethods->xTruncate(f->real, op->offset);
    } else {
      rc = f->real->pMethods->xWrite(f->real, op->data, op->amount, op->offset);
    }
  }
  freeOps(f);
  return rc;
}

static int xClose(sqlite3_file *file) {
  CrashFile *f = (CrashFile *)file;
  pthread_mutex_lock(&gLock);
  // Without a power cut, what the page cache holds outlives the descriptor: keep it.
  if (!gPowerCut) applyOps(f); else freeOps(f);
  if (f->prevOpen) f->prevOpen->nextOpen = f->nextOpen; else gOpenFiles = f->nextOpen;
  if (f->nextOpen) f->nextOpen->prevOpen = f->prevOpen;
  pthread_mutex_unlock(&gLock);
  int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  free(f->path);
  f->path = NULL;
  return rc;
}

static int xRead(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
  CrashFile *f = (CrashFile *)file;
  unsigned char *out = buffer;
  pthread_mutex_lock(&gLock);
  if (gPowerCut) {
    pthread_mutex_unlock(&gLock);
    return SQLITE_IOERR_READ;
  }
  int rc = f->real->pMethods->xRead(f->real, buffer, amount, offset);
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
    pthread_mutex_unlock(&gLock);
    return rc;
  }
  sqlite3_int64 size = 0;
  rc = f->real->pMethods->xFileSize(f->real, &size);
  if (rc != SQLITE_OK) {
    pthread_mutex_unlock(&gLock);
    return rc;
  }
  sqlite3_int64 end = offset + amount;
  for (PendingOp *op = f->head; op; op = op->next) {
    if (op->isTruncate) {
      size = op->offset;
      if (size < end) {
        sqlite3_int64 from = size > offset ? size : offset;
        memset(out + (from - offset), 0, (size_t)(end - from));
      }
    } else {
      sqlite3_int64 opEnd = op->offset + op->amount;
      sqlite3_int64 from = op->offset > offset ? op->offset : offset;
      sqlite3_int64 to = opEnd < end ? opEnd : end;
      if (from < to) memcpy(out + (from - offset), op->data + (from - op->offset), (size_t)(to - from));
      if (opEnd > size) size = opEnd;
    }
  }
  pthread_mutex_unlock(&gLock);
  if (end > size) {
    sqlite3_int64 from = size > offset ? size : offset;
    memset(out + (from - offset), 0, (size_t)(end - from));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

static int xWrite(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
  CrashFile *f = (CrashFile *)file;
  pthread_mutex_lock(&gLock);
  int rc = gPowerCut ? SQLITE_IOERR_WRITE : appendOp(f, 0, offset, data, amount);
  pthread_mutex_unlock(&gLock);
  return rc;
}

static int xTruncate(sqlite3_file *file, sqlite3_int64 size) {
  CrashFile *f = (CrashFile *)file;
  pthread_mutex_lock(&gLock);
  int rc = gPowerCut ? SQLITE_IOERR_TRUNCATE : appendOp(f, 1, size, NULL, 0);
  pthread_mutex_unlock(&gLock);
  return rc;
}

static int xSync(sqlite3_file *file, int flags) {
  CrashFile *f = (CrashFile *)file;
  pthread_mutex_lock(&gLock);
  if (gPowerCut) {
    pthread_mutex_unlock(&gLock);
    return SQLITE_IOERR_FSYNC;
  }
  int rc = applyOps(f);
  if (rc == SQLITE_OK) rc = f->real->pMethods->xSync(f->real, flags);
  gSyncCount++;
  pthread_mutex_unlock(&gLock);
  return rc;
}

static int xFileSize(sqlite3_file *file, sqlite3_int64 *size) {
  CrashFile *f = (CrashFile *)file;
  pthread_mutex_lock(&gLock);
  if (gPowerCut) {
    pthread_mutex_unlock(&gLock);
    return SQLITE_IOERR_FSTAT;
  }
  int rc = f->real->pMethods->xFileSize(f->real, size);
  if (rc == SQLITE_OK) {
    for (PendingOp *op = f->head; op; op = op->next) {
      if (op->isTruncate) {
        *size = op->offset;
      } else if (op->offset + op->amount > *size) {
        *size = op->offset + op->amount;
      }
    }
  }
  pthread_mutex_unlock(&gLock);
  return rc;
}

static int xLock(sqlite3_file *file, int level) {
  if (gPowerCut) return SQLITE_IOERR_LOCK;
  return REAL(file)->pMethods->xLock(REAL(file), level);
}

static int xUnlock(sqlite3_file *file, int level) {
  return REAL(file)->pMethods->xUnlock(REAL(file), level);
}

static int xCheckReservedLock(sqlite3_file *file, int *out) {
  return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}

static int xFileControl(sqlite3_file *file, int op, void *arg) {
  return REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
}

static int xSectorSize(sqlite3_file *file) {
  return REAL(file)->pMethods->xSectorSize(REAL(file));
}

static int xDeviceCharacteristics(sqlite3_file *file) {
  return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}

static int xShmMap(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
  if (gPowerCut) return SQLITE_IOERR_SHMMAP;
  return REAL(file)->pMethods->xShmMap(REAL(file), page, size, extend, out);
}

static int xShmLock(sqlite3_file *file, int offset, int n, int flags) {
  return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}

static void xShmBarrier(sqlite3_file *file) {
  REAL(file)->pMethods->xShmBarrier(REAL(file));
}

static int xShmUnmap(sqlite3_file *file, int deleteFlag) {
  // Never delete the shared-memory file after a power cut; the next open rebuilds it anyway.
  return REAL(file)->pMethods->xShmUnmap(REAL(file), gPowerCut ? 0 : deleteFlag);
}

static const sqlite3_io_methods gMethods = {
  2,
  xClose, xRead, xWrite, xTruncate, xSync, xFileSize, xLock, xUnlock, xCheckReservedLock,
  xFileControl, xSectorSize, xDeviceCharacteristics,
  xShmMap, xShmLock, xShmBarrier, xShmUnmap,
  NULL, NULL,
};

static int vfsOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
  (void)vfs;
  CrashFile *f = (CrashFile *)file;
  memset(f, 0, sizeof(CrashFile));
  f->real = (sqlite3_file *)(f + 1);
  if (gPowerCut) return SQLITE_IOERR;
  int rc = gUnix->xOpen(gUnix, name, f->real, flags, outFlags);
  if (rc != SQLITE_OK) {
    f->base.pMethods = NULL;
    return rc;
  }
  if (name) {
    char resolved[PATH_MAX];
    f->path = strdup(realpath(name, resolved) ? resolved : name);
  }
  f->base.pMethods = &gMethods;
  pthread_mutex_lock(&gLock);
  f->nextOpen = gOpenFiles;
  if (gOpenFiles) gOpenFiles->prevOpen = f;
  gOpenFiles = f;
  pthread_mutex_unlock(&gLock);
  return SQLITE_OK;
}

static int vfsDelete(sqlite3_vfs *vfs, const char *name, int syncDir) {
  (void)vfs;
  if (gPowerCut) return SQLITE_IOERR_DELETE;
  return gUnix->xDelete(gUnix, name, syncDir);
}

static int vfsAccess(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  (void)vfs;
  return gUnix->xAccess(gUnix, name, flags, out);
}

static int vfsFullPathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
  (void)vfs;
  return gUnix->xFullPathname(gUnix, name, n, out);
}

static void *vfsDlOpen(sqlite3_vfs *vfs, const char *name) {
  (void)vfs;
  return gUnix->xDlOpen(gUnix, name);
}

static void vfsDlError(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  gUnix->xDlError(gUnix, n, out);
}

static void (*vfsDlSym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
  (void)vfs;
  return gUnix->xDlSym(gUnix, handle, symbol);
}

static void vfsDlClose(sqlite3_vfs *vfs, void *handle) {
  (void)vfs;
  gUnix->xDlClose(gUnix, handle);
}

static int vfsRandomness(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  return gUnix->xRandomness(gUnix, n, out);
}

static int vfsSleep(sqlite3_vfs *vfs, int microseconds) {
  (void)vfs;
  return gUnix->xSleep(gUnix, microseconds);
}

static int vfsCurrentTime(sqlite3_vfs *vfs, double *out) {
  (void)vfs;
  return gUnix->xCurrentTime(gUnix, out);
}

static int vfsGetLastError(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  return gUnix->xGetLastError(gUnix, n, out);
}

static int vfsCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
  (void)vfs;
  return gUnix->xCurrentTimeInt64(gUnix, out);
}

int taskwire_crash_vfs_register(const char *name) {
  pthread_mutex_lock(&gLock);
  if (sqlite3_vfs_find(name)) {
    pthread_mutex_unlock(&gLock);
    return SQLITE_OK;
  }
  gUnix = sqlite3_vfs_find("unix");
  if (!gUnix) {
    pthread_mutex_unlock(&gLock);
    return SQLITE_ERROR;
  }
  sqlite3_vfs *vfs = calloc(1, sizeof(sqlite3_vfs));
  if (!vfs) {
    pthread_mutex_unlock(&gLock);
    return SQLITE_NOMEM;
  }
  vfs->iVersion = 2;
  // Keep the real file's storage right behind ours, 8-byte aligned.
  int own = (int)((sizeof(CrashFile) + 7) & ~(size_t)7);
  vfs->szOsFile = own + gUnix->szOsFile;
  vfs->mxPathname = gUnix->mxPathname;
  vfs->zName = strdup(name);
  vfs->xOpen = vfsOpen;
  vfs->xDelete = vfsDelete;
  vfs->xAccess = vfsAccess;
  vfs->xFullPathname = vfsFullPathname;
  vfs->xDlOpen = vfsDlOpen;
  vfs->xDlError = vfsDlError;
  vfs->xDlSym = vfsDlSym;
  vfs->xDlClose = vfsDlClose;
  vfs->xRandomness = vfsRandomness;
  vfs->xSleep = vfsSleep;
  vfs->xCurrentTime = vfsCurrentTime;
  vfs->xGetLastError = vfsGetLastError;
  vfs->xCurrentTimeInt64 = vfsCurrentTimeInt64;
  int rc = sqlite3_vfs_register(vfs, 0);
  pthread_mutex_unlock(&gLock);
  return rc;
}

void taskwire_crash_vfs_power_cut(void) {
  pthread_mutex_lock(&gLock);
  gPowerCut = 1;
  for (CrashFile *f = gOpenFiles; f; f = f->nextOpen) freeOps(f);
  pthread_mutex_unlock(&gLock);
}

void taskwire_crash_vfs_reset(void) {
  pthread_mutex_lock(&gLock);
  gPowerCut = 0;
  pthread_mutex_unlock(&gLock);
}

int taskwire_crash_vfs_sync_path(const char *path) {
  char resolved[PATH_MAX];
  const char *wanted = realpath(path, resolved) ? resolved : path;
  pthread_mutex_lock(&gLock);
  if (gPowerCut) {
    pthread_mutex_unlock(&gLock);
    return -1;
  }
  for (CrashFile *f = gOpenFiles; f; f = f->nextOpen) {
    if (f->path && strcmp(f->path, wanted) == 0) {
      applyOps(f);
      f->real->pMethods->xSync(f->real, SQLITE_SYNC_NORMAL);
      gSyncCount++;
    }
  }
  pthread_mutex_unlock(&gLock);
  return 0;
}

long taskwire_crash_vfs_sync_count(void) {
  pthread_mutex_lock(&gLock);
  long n = gSyncCount;
  pthread_mutex_unlock(&gLock);
  return n;
}

long taskwire_crash_vfs_pending_writes(void) {
  pthread_mutex_lock(&gLock);
  long n = 0;
  for (CrashFile *f = gOpenFiles; f; f = f->nextOpen) n += f->pendingCount;
  pthread_mutex_unlock(&gLock);
  return n;
}

/// The versioned schema. `PRAGMA user_version` holds how many migrations are applied; each runs
/// in its own transaction at open. Append new migrations; never edit an applied one.
enum Schema {
  static let migrations: [String] = [
    // 1: tasks, attempt history, event log, idempotency keys, queues, tokens, meta.
    """
    CREATE TABLE tasks (
      rid INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      queue TEXT NOT NULL,
      type TEXT NOT NULL,
      payload BLOB NOT NULL,
      content_type TEXT NOT NULL,
      priority INTEGER NOT NULL,
      run_at_ms INTEGER NOT NULL,
      idem_key TEXT NOT NULL,
      max_attempts INTEGER NOT NULL,
      retry_kind INTEGER NOT NULL,
      retry_initial_ms INTEGER NOT NULL,
      retry_multiplier REAL NOT NULL,
      retry_max_ms INTEGER NOT NULL,
      retry_jitter REAL NOT NULL,
      lease_duration_ms INTEGER NOT NULL,
      execution_timeout_ms INTEGER NOT NULL,
      metadata BLOB NOT NULL,
      parent_id TEXT NOT NULL,
      clean_on_success INTEGER NOT NULL,
      created_by TEXT NOT NULL,
      state INTEGER NOT NULL,
      attempt INTEGER NOT NULL,
      progress INTEGER NOT NULL DEFAULT 0,
      progress_message TEXT NOT NULL DEFAULT '',
      last_error TEXT NOT NULL DEFAULT '',
      result BLOB,
      result_content_type TEXT NOT NULL DEFAULT '',
      worker_id TEXT NOT NULL DEFAULT '',
      lease_token TEXT NOT NULL DEFAULT '',
      lease_deadline_ms INTEGER NOT NULL DEFAULT 0,
      attempt_started_ms INTEGER NOT NULL DEFAULT 0,
      expire_ms INTEGER,
      created_ms INTEGER NOT NULL,
      started_ms INTEGER NOT NULL DEFAULT 0,
      finished_ms INTEGER NOT NULL DEFAULT 0,
      updated_ms INTEGER NOT NULL,
      next_run_ms INTEGER NOT NULL DEFAULT 0,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      cancel_reason TEXT NOT NULL DEFAULT '',
      last_seq INTEGER NOT NULL
    );
    CREATE INDEX tasks_ready ON tasks(queue, priority DESC, run_at_ms) WHERE state = 1;
    CREATE INDEX tasks_ready_type ON tasks(queue, type, priority DESC, run_at_ms) WHERE state = 1;
    CREATE INDEX tasks_due ON tasks(next_run_ms) WHERE state IN (2, 4);
    CREATE INDEX tasks_expire ON tasks(expire_ms) WHERE state = 3;
    CREATE INDEX tasks_finished ON tasks(finished_ms) WHERE state IN (5, 6, 7);
    CREATE INDEX tasks_created_by ON tasks(created_by) WHERE created_by <> '';

    CREATE TABLE attempts (
      rid INTEGER PRIMARY KEY,
      task_id TEXT NOT NULL,
      number INTEGER NOT NULL,
      worker_id TEXT NOT NULL,
      lease_token TEXT NOT NULL,
      started_ms INTEGER NOT NULL,
      ended_ms INTEGER NOT NULL DEFAULT 0,
      outcome INTEGER NOT NULL,
      error TEXT NOT NULL DEFAULT '',
      result_size INTEGER NOT NULL DEFAULT 0,
      answer_state INTEGER NOT NULL DEFAULT 0,
      answer_next_run_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attempts_task ON attempts(task_id);

    CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      task_id TEXT NOT NULL,
      kind INTEGER NOT NULL,
      state INTEGER NOT NULL,
      attempt INTEGER NOT NULL,
      progress INTEGER NOT NULL,
      message TEXT NOT NULL,
      error TEXT NOT NULL,
      result_size INTEGER NOT NULL,
      time_ms INTEGER NOT NULL,
      queue TEXT NOT NULL,
      type TEXT NOT NULL,
      next_run_ms INTEGER NOT NULL
    );

    CREATE TABLE idempotency_keys (
      queue TEXT NOT NULL,
      key TEXT NOT NULL,
      task_id TEXT NOT NULL,
      fingerprint BLOB NOT NULL,
      created_ms INTEGER NOT NULL,
      final_state INTEGER NOT NULL DEFAULT 0,
      finished_ms INTEGER NOT NULL DEFAULT 0,
      expires_ms INTEGER,
      PRIMARY KEY (queue, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_expiry ON idempotency_keys(expires_ms) WHERE expires_ms IS NOT NULL;

    CREATE TABLE queues (
      name TEXT PRIMARY KEY,
      paused INTEGER NOT NULL DEFAULT 0,
      pending INTEGER NOT NULL DEFAULT 0,
      scheduled INTEGER NOT NULL DEFAULT 0,
      running INTEGER NOT NULL DEFAULT 0,
      retrying INTEGER NOT NULL DEFAULT 0,
      succeeded INTEGER NOT NULL DEFAULT 0,
      failed INTEGER NOT NULL DEFAULT 0,
      cancelled INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;

    CREATE TABLE tokens (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      role INTEGER NOT NULL,
      hash TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      revoked_ms INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX tokens_active_name ON tokens(name) WHERE revoked_ms = 0;
    CREATE INDEX tokens_hash ON tokens(hash);

    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta(key, value) VALUES ('last_event_seq', 0);
    """,
    // 2: tombstones of tasks cleaned on success, so a repeated completion (its first answer was
    // lost) is still answered as a success. Purged with the idempotency keys' retention.
    """
    CREATE TABLE cleaned_tasks (
      task_id TEXT PRIMARY KEY,
      lease_token TEXT NOT NULL,
      queue TEXT NOT NULL,
      type TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      finished_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX cleaned_tasks_finished ON cleaned_tasks(finished_ms);
    """,
    // 3: events carry their task's created_by, so a watch resumed from a sequence can filter the
    // replay by creator. Kept events of tasks still stored get it from the task row; those of
    // tasks already deleted keep '' (their creator is gone with them).
    """
    ALTER TABLE events ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
    UPDATE events
    SET created_by = (SELECT tasks.created_by FROM tasks WHERE tasks.id = events.task_id)
    WHERE task_id IN (SELECT id FROM tasks WHERE created_by <> '');
    """,
    // 4: an attempt's row is written once, when the attempt ends; the running attempt lives in
    // its task row (worker_id, lease_token, attempt_started_ms). Rows of running attempts written
    // at lease by earlier versions are superseded by their task rows.
    """
    DELETE FROM attempts
    WHERE outcome = 1 AND EXISTS (
      SELECT 1 FROM tasks
      WHERE tasks.id = attempts.task_id AND tasks.state = 3
        AND tasks.lease_token = attempts.lease_token
    );
    """,
    // 5: the finished index's condition as a range. SQLite evaluates `state IN (5, 6, 7)` (three
    // or more values) through a temporary b-tree, opened and torn down for every row written:
    // once per INSERT into tasks and twice per UPDATE of its state. A range needs none; states
    // added later take numbers above 7, outside it.
    """
    DROP INDEX tasks_finished;
    CREATE INDEX tasks_finished ON tasks(finished_ms) WHERE state BETWEEN 5 AND 7;
    """,
    // 6: payloads over `externalPayloadBytes` live in their own table, written once. In the task
    // row they made every state change (lease, completion, retry, progress) rewrite them: a row
    // whose size changes is deleted and inserted again, overflow pages and all, so a 64 KiB
    // payload cost ~14 times its size in writes over its life. Rows written before keep theirs.
    """
    ALTER TABLE tasks ADD COLUMN payload_external INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE task_payloads (rid INTEGER PRIMARY KEY, payload BLOB NOT NULL);
    CREATE TRIGGER tasks_payload_gone AFTER DELETE ON tasks WHEN old.payload_external <> 0
    BEGIN
      DELETE FROM task_payloads WHERE rid = old.rid;
    END;
    """,
    // 7: PENDING tasks in lease order live in the writer's memory (`ReadyIndex`, rebuilt from
    // this table at open), not in two indexes: their upkeep was a third of each INSERT's cost
    // and part of each lease's UPDATE.
    """
    DROP INDEX tasks_ready;
    DROP INDEX tasks_ready_type;
    """,
  ]

  /// Payloads larger than this (bytes) are stored in `task_payloads`, outside the task row
  /// (migration 6); smaller ones stay in the row, where they cost no second lookup.
  static let externalPayloadBytes = 1_024

  /// The task row's payload, wherever it is stored: a column expression for SELECTs from `tasks`.
  static let payloadColumn = """
    CASE tasks.payload_external WHEN 0 THEN tasks.payload \
    ELSE (SELECT task_payloads.payload FROM task_payloads WHERE task_payloads.rid = tasks.rid) END
    """

  /// Applies the migrations the file lacks. Returns how many ran.
  @discardableResult
  static func migrate(_ db: SQLiteConnection) throws(SQLiteError) -> Int {
    let current = Int(try db.scalar("PRAGMA user_version") ?? 0)
    guard current <= migrations.count else {
      throw SQLiteError(
        code: 1,
        message:
          "the database has schema version \(current); this build knows \(migrations.count)"
      )
    }
    for version in current..<migrations.count {
      try db.execute("BEGIN IMMEDIATE")
      do {
        try db.execute(migrations[version])
        try db.execute("PRAGMA user_version = \(version + 1)")
        try db.execute("COMMIT")
      } catch {
        try? db.execute("ROLLBACK")
        throw error
      }
    }
    return migrations.count - current
  }
}

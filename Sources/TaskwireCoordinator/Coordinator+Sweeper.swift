public import ServiceLifecycle
import Logging
import Synchronization
import TaskwireStore

extension Coordinator: Service {
  /// The sweeper: at least every second (and at the earliest due time), requeues expired leases
  /// and timed-out attempts, promotes due delayed and retrying tasks (which wakes waiting leases),
  /// and now and then applies retention. Ends on graceful shutdown or cancellation.
  public func run() async throws {
    await cancelWhenGracefulShutdown {
      var lastPurge: Int64 = 0
      while !Task.isCancelled {
        let signal = Signal()
        self.sweeperWake.withLock { $0 = signal }
        let now = self.nowMs
        await self.sweep(nowMs: now)
        if now - lastPurge >= self.configuration.purgeIntervalMs {
          lastPurge = now
          await self.purge(nowMs: now)
        }
        var sleepMs = self.configuration.sweepIntervalMs
        if let due = try? await self.store.nextDueMs() {
          sleepMs = max(1, min(sleepMs, due - self.nowMs))
        }
        let pause = sleepMs
        await withTaskGroup(of: Void.self) { group in
          group.addTask { await signal.wait() }
          group.addTask { try? await Task.sleep(for: .milliseconds(pause)) }
          await group.next()
          group.cancelAll()
        }
      }
    }
    self.dispatcher.wakeAll()
    self.watchHub.shutdown()
  }

  /// One sweep at `nowMs`: expire leases and timeouts, promote due tasks. Tests call it with a
  /// virtual clock.
  public func sweep(nowMs: Int64) async {
    do {
      let expired = try await self.store.expireLeases(nowMs: nowMs)
      for lease in expired {
        self.workers.expired(lease.taskID, workerID: lease.workerID)
        self.logger.info(
          "lease expired",
          metadata: [
            "task": "\(lease.taskID)", "worker": "\(lease.workerID)", "state": "\(lease.newState)",
          ]
        )
      }
      _ = try await self.store.promoteDue(nowMs: nowMs)
    } catch {
      self.logger.error("sweep failed", metadata: ["error": "\(error)"])
    }
  }

  /// Retention: finished tasks past their queue's retention, expired idempotency keys, old events.
  public func purge(nowMs: Int64) async {
    do {
      let counts = try await self.store.purge(nowMs: nowMs)
      self.logger.debug("retention purge", metadata: ["counts": "\(counts)"])
      let stats = try await self.stats(queues: [])
      for queue in stats where queue.stuck > 0 {
        self.logger.warning(
          "stuck tasks: pending far longer than expected",
          metadata: ["queue": "\(queue.queue)", "stuck": "\(queue.stuck)"]
        )
      }
    } catch {
      self.logger.error("purge failed", metadata: ["error": "\(error)"])
    }
  }
}

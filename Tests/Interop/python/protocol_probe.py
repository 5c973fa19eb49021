#!/usr/bin/python3
"""Checks the server against the rules of docs/protocol.md, one rule per line.

    /usr/bin/python3 protocol_probe.py --data-dir DATA_DIR [--proto-dir Proto]

Each line says what the doc promises and, on failure, what the server did instead. Exits 1 when
any rule was broken. Uses the Client of taskwire_client.py (written from the doc alone).
"""

import argparse
import os
import signal
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taskwire_client as twc  # noqa: E402


class Probe:
    def __init__(self, pb, address, ca, token):
        self.pb = pb
        self.calls_pb2, self.frame_pb2, self.status_pb2, self.task_pb2 = pb
        self.address, self.ca, self.token = address, ca, token
        self.failed = 0
        self.tag = f"{os.getpid()}-{int(time.time() * 1000)}"

    def check(self, cond, rule, got=""):
        print(("ok   " if cond else "FAIL ") + rule + ("" if cond or not got else f" — server: {got}"), flush=True)
        if not cond:
            self.failed += 1
        return cond

    def client(self, token=None, name="probe"):
        return twc.Client(self.pb, self.address, self.ca, token or self.token, client_name=name)

    def raw_tls(self):
        host, port = twc.split_address(self.address)
        ctx = ssl.create_default_context(cafile=self.ca)
        s = ctx.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname=host)
        s.settimeout(10)
        return s

    def frame(self, call_id=0, **body):
        f = self.frame_pb2.Frame(call_id=call_id)
        for k, v in body.items():
            getattr(f, k).CopyFrom(v)
        return f

    def code(self, status):
        return self.status_pb2.StatusCode.Name(status.code).replace("STATUS_CODE_", "")

    @staticmethod
    def read_frame_raw(sock, pb_frame):
        """One frame or None at EOF."""
        def exactly(n):
            b = b""
            while len(b) < n:
                c = sock.recv(n - len(b))
                if not c:
                    return None
                b += c
            return b
        h = exactly(4)
        if h is None:
            return None
        body = exactly(struct.unpack(">I", h)[0])
        if body is None:
            return None
        f = pb_frame()
        f.ParseFromString(body)
        return f

    def expect_conn_error_then_close(self, sock, code, rule, limit_name=None):
        f = self.read_frame_raw(sock, self.frame_pb2.Frame)
        ok = f is not None and f.call_id == 0 and f.WhichOneof("body") == "error" and self.code(f.error) == code
        if ok and limit_name is not None:
            ok = f.error.limit_name == limit_name
        got = "EOF" if f is None else f"call_id {f.call_id} {f.WhichOneof('body')} {self.code(f.error) if f.WhichOneof('body') == 'error' else ''} {f.error.limit_name if f.WhichOneof('body') == 'error' else ''}"
        # The close must follow; answers of calls that were in flight may still be flushed first.
        closed, extra = False, []
        if f is not None:
            sock.settimeout(3)
            try:
                while True:
                    g = self.read_frame_raw(sock, self.frame_pb2.Frame)
                    if g is None:
                        closed = True
                        break
                    extra.append(f"call {g.call_id} {g.WhichOneof('body')}")
            except TimeoutError:
                closed = False  # still open after 3 s
            except (OSError, ssl.SSLError):
                closed = True  # reset / TLS close
        self.check(ok and closed, rule, got + ("" if closed else ", connection not closed within 3 s"))
        if extra:
            print(f"     note: frames between the connection error and the close: {extra}")
        sock.close()
        return f

    def hello_frame(self, token=None, version=1):
        h = self.calls_pb2.Hello(protocol_version=version, token=token or self.token, client_name="probe")
        return self.frame(0, hello=h)

    def send_raw(self, sock, f):
        b = f.SerializeToString()
        sock.sendall(struct.pack(">I", len(b)) + b)

    def after_hello(self):
        s = self.raw_tls()
        self.send_raw(s, self.hello_frame())
        r = self.read_frame_raw(s, self.frame_pb2.Frame)
        assert r.WhichOneof("body") == "hello_reply", r
        return s

    # ---- rules ------------------------------------------------------------------------------
    def handshake(self):
        s = self.raw_tls()
        self.send_raw(s, self.frame(0, ping=self.calls_pb2.Ping(nonce=1)))
        self.expect_conn_error_then_close(s, "UNAUTHENTICATED", "a frame before the hello: UNAUTHENTICATED, close")
        s = self.raw_tls()
        self.send_raw(s, self.hello_frame(version=2))
        self.expect_conn_error_then_close(s, "FAILED_PRECONDITION", "hello with protocol_version 2: FAILED_PRECONDITION, close")
        s = self.raw_tls()
        self.send_raw(s, self.hello_frame(token="tw_unknown"))
        f = self.expect_conn_error_then_close(s, "UNAUTHENTICATED", "unknown token: UNAUTHENTICATED, close")
        self.check(f is not None and f.error.message == "unknown or revoked token",
                   "unknown token message is 'unknown or revoked token'", f.error.message if f else "")
        c = self.client()
        lim = c.hello_reply.limits
        self.check(lim.max_concurrent_calls == 100, "hello_reply.limits.max_concurrent_calls = 100", lim.max_concurrent_calls)
        self.check(lim.heartbeat_interval_ms == 10000, "hello_reply.limits.heartbeat_interval_ms = 10000", lim.heartbeat_interval_ms)
        self.check(lim.idle_timeout_ms == 300000, "hello_reply.limits.idle_timeout_ms = 300000", lim.idle_timeout_ms)
        self.check(c.hello_reply.connection_id != "", "hello_reply carries a connection_id")
        c.close()

    def framing(self):
        s = self.after_hello()
        t0 = time.time()
        s.sendall(b"\xff\xff\xff\xff")
        f = self.expect_conn_error_then_close(s, "RESOURCE_EXHAUSTED", "declared length 4 GiB-1: RESOURCE_EXHAUSTED max_frame, close", "max_frame")
        self.check(time.time() - t0 < 1.0, "… answered within 1 s, from the header alone", f"{time.time() - t0:.2f}s")
        if f is not None:
            self.check(f.error.limit_value == 4194304 and f.error.observed_value == 0xFFFFFFFF,
                       "… limit_value 4194304, observed_value 4294967295", f"{f.error.limit_value} {f.error.observed_value}")
        s = self.after_hello()
        s.sendall(b"\x00\x00\x00\x00")
        self.expect_conn_error_then_close(s, "INVALID_ARGUMENT", "length 0: INVALID_ARGUMENT, close")
        s = self.after_hello()
        s.sendall(b"\x00\x00\x00\x05\xff\xff\xff\xff\xff")
        self.expect_conn_error_then_close(s, "INVALID_ARGUMENT", "a body that is not a Frame: INVALID_ARGUMENT, close")
        s = self.after_hello()
        self.send_raw(s, self.hello_frame())
        self.expect_conn_error_then_close(s, "INVALID_ARGUMENT", "a second hello (call_id 0, not ping/pong): INVALID_ARGUMENT, close")
        # call_id 0 with no known body (a newer peer's frame): any call_id 0 error must be followed by close.
        s = self.after_hello()
        s.sendall(b"\x00\x00\x00\x03\xf8\x3f\x01")
        self.expect_conn_error_then_close(s, "INVALID_ARGUMENT", "call_id 0 without a known body: connection error INVALID_ARGUMENT, close")

    def calls(self):
        c = self.client()
        # A frame with no body and call_id > 0: INVALID_ARGUMENT for that call, connection stays.
        c.send(self.frame_pb2.Frame(call_id=500))
        r = c.recv()
        self.check(r.call_id == 500 and r.WhichOneof("body") == "error" and self.code(r.error) == "INVALID_ARGUMENT",
                   "a frame without a body (call_id 500): INVALID_ARGUMENT for call 500", str(r).replace("\n", " "))
        # Out of order: a long poll first, then a health call answered before it.
        lease = self.calls_pb2.LeaseRequest(types=["none-" + self.tag], wait_ms=1500)
        c.send(self.frame(1001, lease_request=lease))
        c.send(self.frame(1002, health_request=self.calls_pb2.HealthRequest()))
        order = [c.recv().call_id, c.recv().call_id]
        self.check(order == [1002, 1001], "answers come out of order (health before a waiting lease)", order)
        # Cancel of a waiting lease: CANCELLED.
        c.send(self.frame(1003, lease_request=self.calls_pb2.LeaseRequest(types=["none-" + self.tag], wait_ms=30000)))
        c.send(self.frame(1003, cancel_call=self.calls_pb2.CancelCall()))
        t0 = time.time()
        r = c.recv()
        self.check(r.call_id == 1003 and r.WhichOneof("body") == "error" and self.code(r.error) == "CANCELLED" and time.time() - t0 < 5,
                   "cancel_call on a waiting lease: error CANCELLED", str(r).replace("\n", " "))
        # Cancel of an unknown call: ignored.
        c.send(self.frame(99999, cancel_call=self.calls_pb2.CancelCall()))
        h = c.call("health_request", self.calls_pb2.HealthRequest())
        self.check(h.ready, "cancel_call for an unknown call is ignored")
        # 101 calls in flight: the 101st gets RESOURCE_EXHAUSTED max_concurrent_calls, connection stays.
        for i in range(101):
            c.send(self.frame(2000 + i, lease_request=self.calls_pb2.LeaseRequest(types=["none-" + self.tag], wait_ms=20000)))
        r = c.recv()
        self.check(r.call_id == 2100 and r.WhichOneof("body") == "error" and self.code(r.error) == "RESOURCE_EXHAUSTED"
                   and r.error.limit_name == "max_concurrent_calls" and r.error.limit_value == 100 and r.error.observed_value == 101,
                   "the 101st call in flight: RESOURCE_EXHAUSTED max_concurrent_calls 100/101", str(r).replace("\n", " "))
        for i in range(100):
            c.send(self.frame(2000 + i, cancel_call=self.calls_pb2.CancelCall()))
        codes = set()
        for _ in range(100):
            codes.add(self.code(c.recv().error))
        self.check(codes == {"CANCELLED"}, "… and the 100 cancelled long polls each end CANCELLED", codes)
        # A call id still in flight reused: connection error INVALID_ARGUMENT, close.
        c.send(self.frame(3000, lease_request=self.calls_pb2.LeaseRequest(types=["none-" + self.tag], wait_ms=20000)))
        c.send(self.frame(3000, health_request=self.calls_pb2.HealthRequest()))
        self.expect_conn_error_then_close(c.sock, "INVALID_ARGUMENT", "reusing a call id in flight: connection error INVALID_ARGUMENT, close")
        # max_tasks over 256.
        c = self.client()
        try:
            c.call("lease_request", self.calls_pb2.LeaseRequest(max_tasks=257))
            self.check(False, "lease max_tasks 257: INVALID_ARGUMENT max_lease_tasks", "OK")
        except twc.TaskwireError as e:
            self.check(e.code_name == "INVALID_ARGUMENT" and e.status.limit_name == "max_lease_tasks",
                       "lease max_tasks 257: INVALID_ARGUMENT max_lease_tasks", e)
        c.close()

    def tasks(self):
        c = self.client()
        T, S = self.calls_pb2, self.task_pb2
        q = "probe-" + self.tag

        def submit(typ, **kw):
            return c.call("submit_request", T.SubmitRequest(task=S.TaskSpec(queue=q, type=typ, **kw)))

        def lease(typ):
            r = c.call("lease_request", T.LeaseRequest(queues=[q], types=[typ], wait_ms=5000))
            return r.tasks[0] if r.tasks else None

        submit("k", idempotency_key="key1", payload=b"a")
        try:
            submit("k", idempotency_key="key1", payload=b"b")
            self.check(False, "same idempotency key, different request: CONFLICT", "OK")
        except twc.TaskwireError as e:
            self.check(e.code_name == "CONFLICT", "same idempotency key, different request: CONFLICT", e)
        # Release: back to PENDING without using an attempt.
        submit("rel")
        t = lease("rel")
        c.call("release_request", T.ReleaseRequest(task_id=t.id, lease_token=t.lease_token))
        g = c.call("get_request", T.GetRequest(id=t.id)).task
        self.check(g.state == S.TASK_STATE_PENDING, "release: task back to PENDING", S.TaskState.Name(g.state))
        t2 = lease("rel")
        self.check(t2 is not None and t2.attempt == 1, "release: the next lease is attempt 1 again", t2.attempt if t2 else None)
        # Fail: retryable -> RETRYING with next_run_ms; permanent -> FAILED.
        fr = c.call("fail_request", T.FailRequest(task_id=t2.id, lease_token=t2.lease_token, error="boom"))
        self.check(fr.state == S.TASK_STATE_RETRYING and fr.next_run_ms > 0, "retryable fail: RETRYING with next_run_ms",
                   f"{S.TaskState.Name(fr.state)} {fr.next_run_ms}")
        fr2 = c.call("fail_request", T.FailRequest(task_id=t2.id, lease_token=t2.lease_token, error="boom"))
        self.check(fr2 == fr, "fail repeated with the same token: the same answer")
        submit("perm")
        t = lease("perm")
        fr = c.call("fail_request", T.FailRequest(task_id=t.id, lease_token=t.lease_token, error="bad", permanent=True))
        self.check(fr.state == S.TASK_STATE_FAILED, "permanent fail: FAILED", S.TaskState.Name(fr.state))
        # Complete after cancel requested wins.
        submit("cw")
        t = lease("cw")
        cr = c.call("cancel_request", T.CancelRequest(id=t.id, reason="probe")).task
        self.check(cr.cancel_requested and cr.state == S.TASK_STATE_RUNNING, "cancel of a running task: cancel_requested, still RUNNING")
        notice = None
        hb = c.call("heartbeat_request", T.HeartbeatRequest(task_id=t.id, lease_token=t.lease_token))
        notice = next((n for n in c.cancel_notices if n.task_id == t.id), None)
        self.check(notice is not None and notice.lease_token == t.lease_token, "a cancel_notice (call_id 0) reached the holding connection")
        self.check(hb.cancel_requested, "… and the heartbeat answer says cancel_requested")
        c.call("complete_request", T.CompleteRequest(task_id=t.id, lease_token=t.lease_token, result=b"r"))
        g = c.call("get_request", T.GetRequest(id=t.id)).task
        self.check(g.state == S.TASK_STATE_SUCCEEDED, "a complete after cancel was requested wins: SUCCEEDED", S.TaskState.Name(g.state))
        # Bodies only from Get.
        sub = submit("bodies", payload=b"xyz").task
        self.check(sub.spec.payload == b"", "submit's answer leaves the payload out (bodies only from Get)", sub.spec.payload)
        g = c.call("get_request", T.GetRequest(id=sub.id)).task
        self.check(g.spec.payload == b"xyz", "get returns the payload")
        c.close()

    def watch(self):
        c = self.client()
        T, S = self.calls_pb2, self.task_pb2
        q = "probe-w-" + self.tag
        task = c.call("submit_request", T.SubmitRequest(task=S.TaskSpec(queue=q, type="w"))).task
        c.send(self.frame(10, watch_request=T.WatchRequest(task_ids=[task.id])))
        ev = c.recv()
        snap_ok = ev.call_id == 10 and ev.WhichOneof("body") == "watch_event" and ev.watch_event.kind == T.EVENT_KIND_SNAPSHOT
        self.check(snap_ok and ev.watch_event.task.id == task.id and ev.watch_event.task.sequence > 0,
                   "watch by id starts with a SNAPSHOT carrying the task and its sequence", str(ev).replace("\n", " ")[:200])
        snap_seq = ev.watch_event.task.sequence if snap_ok else 0
        c.send(self.frame(12, cancel_request=T.CancelRequest(id=task.id)))
        live = []
        while True:
            f = c.recv()
            if f.call_id == 12:
                continue  # the cancel's own answer
            if f.call_id == 10 and f.WhichOneof("body") == "watch_event":
                live.append(f.watch_event)
                if f.watch_event.kind == T.EVENT_KIND_FINISHED:
                    break
            elif f.call_id == 10:
                break
        self.check(live and live[-1].state == S.TASK_STATE_CANCELLED, "live events follow, ending with FINISHED CANCELLED",
                   [(e.sequence, T.EventKind.Name(e.kind)) for e in live])
        c.send(self.frame(10, cancel_call=T.CancelCall()))
        f = c.recv()
        while f.call_id != 10 or f.WhichOneof("body") == "watch_event":
            f = c.recv()  # pushes, the cancel's answer (call 12), late events
        self.check(f.call_id == 10 and f.WhichOneof("body") == "stream_end" and self.code(f.stream_end.status) == "CANCELLED",
                   "cancel_call on a watch: stream_end CANCELLED", str(f).replace("\n", " "))
        # Resume: after_sequence = the snapshot's sequence replays exactly the live events, no snapshot.
        c.send(self.frame(11, watch_request=T.WatchRequest(task_ids=[task.id], after_sequence=snap_seq)))
        replay = []
        deadline = time.time() + 5
        while len(replay) < len(live) and time.time() < deadline:
            f = c.recv()
            if f.call_id == 11 and f.WhichOneof("body") == "watch_event":
                replay.append(f.watch_event)
            elif f.call_id == 11:
                break
        self.check([e.sequence for e in replay] == [e.sequence for e in live],
                   "watch with after_sequence replays the same events (no gap, no duplicate, no snapshot)",
                   f"{[e.sequence for e in replay]} vs {[e.sequence for e in live]}")
        seqs = [e.sequence for e in live]
        self.check(seqs == sorted(set(seqs)) and (not seqs or seqs[0] > snap_seq), "sequence numbers only grow")
        c.send(self.frame(11, cancel_call=T.CancelCall()))
        c.close()

    def roles(self):
        T = self.calls_pb2
        admin = self.client()
        tokens = {}
        for role in ("client", "worker"):
            r = admin.call("create_token_request", T.CreateTokenRequest(name=f"probe-{role}-{self.tag}", role=getattr(T, "ROLE_" + role.upper())))
            tokens[role] = r.token
        w = self.client(tokens["worker"])
        self.check(w.hello_reply.role == T.ROLE_WORKER, "a worker token's hello_reply.role is ROLE_WORKER")
        try:
            w.call("get_request", T.GetRequest(id="x"))
            self.check(False, "worker calls get: PERMISSION_DENIED", "OK")
        except twc.TaskwireError as e:
            self.check(e.code_name == "PERMISSION_DENIED", "worker calls get: PERMISSION_DENIED", e)
        w.call("submit_request", T.SubmitRequest(task=self.task_pb2.TaskSpec(queue="probe-r-" + self.tag, type="child")))
        self.check(True, "worker may submit (child tasks)")
        cl = self.client(tokens["client"])
        try:
            cl.call("lease_request", T.LeaseRequest())
            self.check(False, "client calls lease: PERMISSION_DENIED", "OK")
        except twc.TaskwireError as e:
            self.check(e.code_name == "PERMISSION_DENIED", "client calls lease: PERMISSION_DENIED", e)
        try:
            cl.call("stats_request", T.StatsRequest())
            self.check(False, "client calls stats: PERMISSION_DENIED", "OK")
        except twc.TaskwireError as e:
            self.check(e.code_name == "PERMISSION_DENIED", "client calls stats: PERMISSION_DENIED", e)
        w.send(self.frame(7, watch_request=T.WatchRequest()))
        f = w.recv()
        self.check(f.call_id == 7 and f.WhichOneof("body") == "stream_end" and self.code(f.stream_end.status) == "PERMISSION_DENIED",
                   "worker watches: stream_end PERMISSION_DENIED", str(f).replace("\n", " "))
        # Revoke: open connections close within seconds; reconnecting gets UNAUTHENTICATED.
        admin.call("revoke_token_request", T.RevokeTokenRequest(id=f"probe-client-{self.tag}"))
        closed = False
        t0 = time.time()
        cl.sock.settimeout(10)
        try:
            while time.time() - t0 < 10:
                cl.recv()
        except (twc.TaskwireError, OSError, ssl.SSLError):
            closed = True
        self.check(closed and time.time() - t0 < 10, "a revoked token's open connection is closed within seconds", f"{time.time() - t0:.1f}s")
        try:
            self.client(tokens["client"]).close()
            self.check(False, "a revoked token: UNAUTHENTICATED", "connected")
        except twc.TaskwireError as e:
            self.check(e.code_name == "UNAUTHENTICATED", "a revoked token: UNAUTHENTICATED", e)
        w.close()
        admin.close()


    def shutdown(self, server_pid):
        """Graceful shutdown: go_away, waiting long polls end UNAVAILABLE, watches end UNAVAILABLE
        with resume_from. Sends SIGTERM to server_pid itself."""
        T = self.calls_pb2
        c = self.client()
        task = c.call("submit_request", T.SubmitRequest(task=self.task_pb2.TaskSpec(type="sd-" + self.tag))).task
        c.send(self.frame(1, lease_request=T.LeaseRequest(types=["none-" + self.tag], wait_ms=30000)))
        c.send(self.frame(2, watch_request=T.WatchRequest(task_ids=[task.id])))
        f = c.recv()
        self.check(f.call_id == 2 and f.WhichOneof("body") == "watch_event", "shutdown setup: the watch is live")
        os.kill(server_pid, signal.SIGTERM)
        frames = []
        try:
            while True:
                frames.append(c.recv())
        except (twc.TaskwireError, OSError, ssl.SSLError):
            pass
        kinds = [(f.call_id, f.WhichOneof("body")) for f in frames]
        self.check((0, "go_away") in kinds, "shutdown: the server sends go_away", kinds)
        lease_end = next((f for f in frames if f.call_id == 1), None)
        self.check(lease_end is not None and lease_end.WhichOneof("body") == "error" and self.code(lease_end.error) == "UNAVAILABLE",
                   "shutdown: a waiting lease long poll ends with error UNAVAILABLE",
                   "no answer before the close" if lease_end is None else str(lease_end).replace("\n", " "))
        watch_end = next((f for f in frames if f.call_id == 2 and f.WhichOneof("body") == "stream_end"), None)
        self.check(watch_end is not None and self.code(watch_end.stream_end.status) == "UNAVAILABLE",
                   "shutdown: a watch ends with stream_end UNAVAILABLE",
                   "no stream_end" if watch_end is None else str(watch_end).replace("\n", " "))
        self.check(watch_end is not None and watch_end.stream_end.status.resume_from > 0,
                   "shutdown: … carrying resume_from",
                   "no stream_end" if watch_end is None else f"resume_from {watch_end.stream_end.status.resume_from}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--proto-dir", default=twc.DEFAULT_PROTO_DIR)
    ap.add_argument("--shutdown-pid", type=int, help="only the graceful-shutdown rules; SIGTERMs this server")
    args = ap.parse_args()
    address, token, ca = twc.read_dev_setup(args.data_dir)
    p = Probe(twc.generate_protos(args.proto_dir), address, ca, token)
    parts = (p.handshake, p.framing, p.calls, p.tasks, p.watch, p.roles)
    if args.shutdown_pid:
        parts = (lambda: p.shutdown(args.shutdown_pid),)
    for part in parts:
        try:
            part()
        except Exception as e:  # a crash in one part is a failure of that part, not of the rest
            p.check(False, f"{part.__name__}: ran to the end", repr(e))
    print("protocol probe: " + ("all rules held" if not p.failed else f"{p.failed} rule(s) broken"))
    return 0 if not p.failed else 1


if __name__ == "__main__":
    sys.exit(main())

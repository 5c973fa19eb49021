#!/usr/bin/python3
"""A minimal Taskwire client in Python, written from docs/protocol.md and Proto/ alone.

Runs with Debian's /usr/bin/python3 + python3-protobuf (or pip's protobuf==4.21.12) and the
standard `ssl` module. The protobuf code is generated from Proto/ with `protoc --python_out` into a
temporary directory at run time.

As a script it runs the interop scenario: hello, submit, lease, heartbeat, complete, get, and checks
every answer:

    /usr/bin/python3 taskwire_client.py --data-dir DATA_DIR [--proto-dir Proto]

It exits 0 when every check passed, 1 otherwise, printing one line per step.
"""

import argparse
import atexit
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "..", "Proto"))


def generate_protos(proto_dir):
    """protoc --python_out into a temp dir; returns the imported modules."""
    out = tempfile.mkdtemp(prefix="taskwire-py-")
    atexit.register(shutil.rmtree, out, True)
    files = sorted(
        os.path.join(proto_dir, "taskwire", "v1", f)
        for f in os.listdir(os.path.join(proto_dir, "taskwire", "v1"))
        if f.endswith(".proto")
    )
    subprocess.run(["protoc", "-I", proto_dir, "--python_out=" + out] + files, check=True)
    sys.path.insert(0, out)
    from taskwire.v1 import calls_pb2, frame_pb2, status_pb2, task_pb2  # noqa: E402

    return calls_pb2, frame_pb2, status_pb2, task_pb2


class TaskwireError(Exception):
    """A call failed with a taskwire.v1.Status (or a local transport problem)."""

    def __init__(self, code_name, status=None, message=""):
        self.code_name = code_name
        self.status = status
        super().__init__(f"{code_name}: {status.message if status is not None else message}")


class Client:
    """One TLS connection; blocking calls, one at a time; pushed frames handled while waiting."""

    def __init__(self, pb, address, ca_file, token, client_name="python-interop", timeout=15.0):
        self.calls_pb2, self.frame_pb2, self.status_pb2, self.task_pb2 = pb
        self.max_frame = 4 * 1024 * 1024  # until the hello reply announces the real limit
        self.next_call_id = 1
        self.next_nonce = 1
        self.cancel_notices = []
        self.going_away = False
        host, port = split_address(address)
        ctx = ssl.create_default_context(cafile=ca_file)  # verifies the chain and the host/IP
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.sock.settimeout(timeout)
        self.tls_version = self.sock.version()
        # Handshake: the first frame is the hello, call_id 0.
        hello = self.frame_pb2.Frame(call_id=0)
        hello.hello.protocol_version = 1
        hello.hello.token = token
        hello.hello.client_name = client_name
        self.send(hello)
        reply = self.recv()
        kind = reply.WhichOneof("body")
        if kind == "error":
            self.sock.close()
            raise TaskwireError(self.code_name(reply.error.code), reply.error)
        if kind != "hello_reply":
            raise TaskwireError("INTERNAL", message=f"expected hello_reply, got {kind}")
        self.hello_reply = reply.hello_reply
        if reply.hello_reply.limits.max_frame_bytes:
            self.max_frame = reply.hello_reply.limits.max_frame_bytes

    def code_name(self, code):
        return self.status_pb2.StatusCode.Name(code).replace("STATUS_CODE_", "")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- framing --------------------------------------------------------------------------
    def send(self, frame):
        body = frame.SerializeToString()
        if len(body) > self.max_frame:
            raise TaskwireError("RESOURCE_EXHAUSTED", message=f"frame of {len(body)} bytes > max_frame")
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def _read_exactly(self, n):
        chunks = []
        while n > 0:
            chunk = self.sock.recv(min(n, 65536))
            if not chunk:
                raise TaskwireError("UNAVAILABLE", message="connection closed by the server")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def recv(self):
        (n,) = struct.unpack(">I", self._read_exactly(4))
        if n > self.max_frame:  # checked from the header alone, like the server does
            self.close()
            raise TaskwireError("RESOURCE_EXHAUSTED", message=f"server frame of {n} bytes > max_frame")
        if n == 0:
            raise TaskwireError("INTERNAL", message="empty frame")
        frame = self.frame_pb2.Frame()
        frame.ParseFromString(self._read_exactly(n))
        return frame

    # -- calls ----------------------------------------------------------------------------
    def _handle_push(self, frame):
        kind = frame.WhichOneof("body")
        if kind == "ping":
            pong = self.frame_pb2.Frame(call_id=0)
            pong.pong.nonce = frame.ping.nonce
            self.send(pong)
        elif kind == "cancel_notice":
            self.cancel_notices.append(frame.cancel_notice)
        elif kind == "go_away":
            self.going_away = True
        elif kind == "error":  # a connection error: the server closes right after it
            self.close()
            raise TaskwireError(self.code_name(frame.error.code), frame.error)

    def call(self, name, request):
        """Unary call: `name` is the request field (e.g. "submit_request"); returns the response
        message, raises TaskwireError for an error answer."""
        if self.going_away:
            raise TaskwireError("UNAVAILABLE", message="server is going away")
        call_id = self.next_call_id
        self.next_call_id += 1
        frame = self.frame_pb2.Frame(call_id=call_id)
        getattr(frame, name).CopyFrom(request)
        self.send(frame)
        while True:
            answer = self.recv()
            if answer.call_id == 0:
                self._handle_push(answer)
                continue
            if answer.call_id != call_id:
                continue  # not ours (cannot happen with one call at a time)
            kind = answer.WhichOneof("body")
            if kind == "error":
                raise TaskwireError(self.code_name(answer.error.code), answer.error)
            expected = name.replace("_request", "_response")
            if kind != expected:
                raise TaskwireError("INTERNAL", message=f"expected {expected}, got {kind}")
            return getattr(answer, kind)

    def ping(self):
        nonce = self.next_nonce
        self.next_nonce += 1
        frame = self.frame_pb2.Frame(call_id=0)
        frame.ping.nonce = nonce
        self.send(frame)
        while True:
            answer = self.recv()
            if answer.call_id == 0 and answer.WhichOneof("body") == "pong" and answer.pong.nonce == nonce:
                return
            if answer.call_id == 0:
                self._handle_push(answer)


def split_address(address):
    host, _, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def read_dev_setup(data_dir):
    with open(os.path.join(data_dir, "address")) as f:
        address = f.read().strip()
    with open(os.path.join(data_dir, "admin.token")) as f:
        token = f.read().strip()
    return address, token, os.path.join(data_dir, "tls", "ca.pem")


# -- the interop scenario ---------------------------------------------------------------------
class Checker:
    def __init__(self):
        self.failed = 0

    def check(self, cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            self.failed += 1
        return cond


def run_scenario(pb, address, ca_file, token):
    calls_pb2, frame_pb2, status_pb2, task_pb2 = pb
    chk = Checker()
    client = Client(pb, address, ca_file, token)
    hr = client.hello_reply
    chk.check(hr.protocol_version == 1, f"hello: protocol_version 1 (got {hr.protocol_version})")
    chk.check(hr.role == calls_pb2.ROLE_ADMIN, f"hello: admin token has ROLE_ADMIN (got {hr.role})")
    chk.check(hr.limits.max_frame_bytes == 4194304, f"hello: max_frame_bytes 4194304 (got {hr.limits.max_frame_bytes})")
    chk.check(hr.limits.max_payload_bytes == 1048576, f"hello: max_payload_bytes 1048576 (got {hr.limits.max_payload_bytes})")
    chk.check(client.tls_version in ("TLSv1.2", "TLSv1.3"), f"TLS version {client.tls_version}")
    client.ping()
    chk.check(True, "ping answered with the same nonce")

    task_type = f"py-interop-{os.getpid()}-{int(time.time() * 1000)}"
    queue = "py-interop"
    payload = b'{"n":21}'
    spec = task_pb2.TaskSpec(queue=queue, type=task_type, payload=payload, content_type="application/json")
    spec.metadata["created_by"] = "python-interop"
    submitted = client.call("submit_request", calls_pb2.SubmitRequest(task=spec)).task
    chk.check(len(submitted.id) == 26, f"submit: 26-char id ({submitted.id!r})")
    chk.check(submitted.state == task_pb2.TASK_STATE_PENDING, f"submit: PENDING (got {task_pb2.TaskState.Name(submitted.state)})")

    # Idempotent submit: same key twice -> existing=true and the same id.
    spec_key = task_pb2.TaskSpec()
    spec_key.CopyFrom(spec)
    spec_key.type = task_type + "-key"
    spec_key.idempotency_key = "k-" + task_type
    first = client.call("submit_request", calls_pb2.SubmitRequest(task=spec_key))
    again = client.call("submit_request", calls_pb2.SubmitRequest(task=spec_key))
    chk.check(not first.existing and again.existing and again.task.id == first.task.id,
              "submit: repeated idempotency key returns the existing task")

    lease = client.call("lease_request", calls_pb2.LeaseRequest(queues=[queue], types=[task_type], max_tasks=1, wait_ms=5000))
    chk.check(len(lease.tasks) == 1, f"lease: one task ({len(lease.tasks)})")
    if not lease.tasks:
        client.close()
        return chk.failed or 1
    leased = lease.tasks[0]
    chk.check(leased.id == submitted.id, "lease: the task we submitted")
    chk.check(leased.payload == payload, "lease: payload intact")
    chk.check(leased.attempt == 1, f"lease: attempt 1 (got {leased.attempt})")
    chk.check(leased.lease_token != "", "lease: has a lease token")

    hb = client.call("heartbeat_request", calls_pb2.HeartbeatRequest(
        task_id=leased.id, lease_token=leased.lease_token,
        progress=calls_pb2.Progress(percent=50, message="half way")))
    chk.check(hb.lease_deadline_ms > 0 and not hb.cancel_requested, "heartbeat: lease extended, no cancel")

    try:
        client.call("heartbeat_request", calls_pb2.HeartbeatRequest(task_id=leased.id, lease_token="not-the-token"))
        chk.check(False, "heartbeat with a wrong token: LEASE_LOST")
    except TaskwireError as e:
        chk.check(e.code_name == "LEASE_LOST", f"heartbeat with a wrong token: LEASE_LOST (got {e.code_name})")

    result = b'{"answer":42}'
    client.call("complete_request", calls_pb2.CompleteRequest(
        task_id=leased.id, lease_token=leased.lease_token, result=result, content_type="application/json"))
    chk.check(True, "complete: OK")
    # Repeating the complete with the token that finished the task gets the same answer.
    try:
        client.call("complete_request", calls_pb2.CompleteRequest(
            task_id=leased.id, lease_token=leased.lease_token, result=result, content_type="application/json"))
        chk.check(True, "complete repeated with the same token: OK again")
    except TaskwireError as e:
        chk.check(False, f"complete repeated with the same token: OK again (got {e})")

    task = client.call("get_request", calls_pb2.GetRequest(id=submitted.id)).task
    chk.check(task.state == task_pb2.TASK_STATE_SUCCEEDED, f"get: SUCCEEDED (got {task_pb2.TaskState.Name(task.state)})")
    chk.check(task.result == result, f"get: result intact ({task.result!r})")
    chk.check(task.progress == 50 and task.progress_message == "half way",
              f"get: progress 50 'half way' (got {task.progress} {task.progress_message!r})")
    chk.check(task.attempt == 1, f"get: attempt 1 (got {task.attempt})")
    chk.check(task.spec.metadata.get("created_by") == "python-interop", "get: metadata kept")

    try:
        client.call("get_request", calls_pb2.GetRequest(id="0" * 26))
        chk.check(False, "get of an unknown id: NOT_FOUND")
    except TaskwireError as e:
        chk.check(e.code_name == "NOT_FOUND", f"get of an unknown id: NOT_FOUND (got {e.code_name})")

    # A request of no known kind with call_id > 0 -> INVALID_ARGUMENT for that call, connection stays.
    frame = frame_pb2.Frame(call_id=client.next_call_id)
    client.next_call_id += 1
    frame.get_response.SetInParent()
    client.send(frame)
    answer = client.recv()
    while answer.call_id == 0:
        client._handle_push(answer)
        answer = client.recv()
    chk.check(answer.WhichOneof("body") == "error" and client.code_name(answer.error.code) == "INVALID_ARGUMENT",
              "a response body sent as a request: INVALID_ARGUMENT")
    health = client.call("health_request", calls_pb2.HealthRequest())
    chk.check(health.ready, "the connection stays usable (health ready)")
    client.close()

    # A bad token: UNAUTHENTICATED, then close.
    try:
        Client(pb, address, ca_file, "tw_definitely_not_a_token").close()
        chk.check(False, "bad token: UNAUTHENTICATED")
    except TaskwireError as e:
        chk.check(e.code_name == "UNAUTHENTICATED", f"bad token: UNAUTHENTICATED (got {e.code_name})")
    return chk.failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("TASKWIRE_DATA_DIR"))
    ap.add_argument("--address", default=os.environ.get("TASKWIRE_ADDRESS"))
    ap.add_argument("--ca", default=os.environ.get("TASKWIRE_CA"))
    ap.add_argument("--token", default=os.environ.get("TASKWIRE_TOKEN"))
    ap.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR)
    args = ap.parse_args()
    if args.data_dir:
        address, token, ca = read_dev_setup(args.data_dir)
        args.address = args.address or address
        args.token = args.token or token
        args.ca = args.ca or ca
    if not (args.address and args.ca and args.token):
        ap.error("need --data-dir, or --address, --ca and --token")
    pb = generate_protos(args.proto_dir)
    failed = run_scenario(pb, args.address, args.ca, args.token)
    print("python interop: " + ("all checks passed" if not failed else f"{failed} check(s) failed"))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())

"""A small Maelstrom node library, written from Maelstrom's doc/protocol.md only (standard
library only): read messages on stdin, reply, send RPCs to other nodes and services, and run
handlers on threads so a handler may wait for the reply to its own RPC."""
import json
import sys
import threading


class Node:
    def __init__(self):
        self.node_id = None
        self.node_ids = []
        self.handlers = {}
        self.callbacks = {}
        self.next_id = 0
        self.lock = threading.Lock()
        self.out = threading.Lock()

    def on(self, kind, handler):
        self.handlers[kind] = handler

    def log(self, text):
        print(text, file=sys.stderr, flush=True)

    def send(self, dest, body):
        with self.out:
            print(json.dumps({"src": self.node_id, "dest": dest, "body": body}), flush=True)

    def reply(self, request, body):
        body = dict(body)
        body["in_reply_to"] = request["body"].get("msg_id")
        self.send(request["src"], body)

    def rpc(self, dest, body, callback):
        with self.lock:
            self.next_id += 1
            msg_id = self.next_id
            self.callbacks[msg_id] = callback
        body = dict(body)
        body["msg_id"] = msg_id
        self.send(dest, body)

    def call(self, dest, body, timeout=1.0):
        """A synchronous RPC: the reply body, or None after `timeout` seconds."""
        done = threading.Event()
        box = {}

        def got(reply):
            box["reply"] = reply["body"]
            done.set()

        self.rpc(dest, body, got)
        done.wait(timeout)
        return box.get("reply")

    def every(self, seconds, task):
        def loop():
            while True:
                threading.Event().wait(seconds)
                task()
        threading.Thread(target=loop, daemon=True).start()

    def run(self):
        for line in sys.stdin:
            message = json.loads(line)
            body = message["body"]
            if body.get("type") == "init":
                self.node_id = body["node_id"]
                self.node_ids = body["node_ids"]
                self.reply(message, {"type": "init_ok"})
                continue
            reply_to = body.get("in_reply_to")
            if reply_to is not None:
                with self.lock:
                    callback = self.callbacks.pop(reply_to, None)
                if callback:
                    callback(message)
                continue
            handler = self.handlers.get(body.get("type"))
            if handler is None:
                self.reply(message, {"type": "error", "code": 10, "text": "not supported"})
                continue
            threading.Thread(target=handler, args=(message,), daemon=True).start()

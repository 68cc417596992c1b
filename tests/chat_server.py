"""A stand-in OpenAI-compatible chat endpoint on 127.0.0.1 for tests of model-backed rewards and envs: real HTTP,
answered by a Python function of the request body (or an HTTP error status, or after a delay; or with an HTML page,
as a misconfigured URL does). `requests` holds the request bodies, `calls` each request's path, body and
Authorization header."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, reply: Callable[[dict], str], status: int = 200, delay_s: float = 0.0,
                 html: str | None = None):
        self.requests: list[dict] = []
        self.calls: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.calls.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                time.sleep(delay_s)
                payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": reply(body)}}]}
                data = json.dumps(payload if status == 200 else {"error": {"message": "boom"}}).encode()
                if html is not None:
                    data = html.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if html is not None else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> ChatServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

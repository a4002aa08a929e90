#!/usr/bin/env python3
"""A test double for ClickHouse's HTTP *transport* only: the SQL runs on the real ClickHouse
engine, embedded in this process by PyPI's chdb-core (ClickHouse 26.x).

It serves the subset of ClickHouse's HTTP interface that ccscope's client uses:
  POST /  body = the query (its FORMAT clause chooses the output); URL parameters database= and
          param_<name>= (bound by the engine into {name:Type} placeholders). The user is
          read-only (readonly=1, the usual grant for a dashboard): any other URL parameter — a
          setting — is refused with exception 164, as ClickHouse refuses it;
  GET /ping -> "Ok.";
  authentication by X-ClickHouse-User / X-ClickHouse-Key (or HTTP basic), refused with HTTP 401 and
  exception code 516 as ClickHouse does; engine errors come back with ClickHouse's text, its
  X-ClickHouse-Exception-Code header and the HTTP status ClickHouse gives that code.

Usage: front.py --data DIR [--port 0] [--user default] [--password PW] [--writable]
                [--tls-cert CERT.pem --tls-key KEY.pem]   (HTTPS, as ClickHouse's https_port)
Prints "listening on PORT" once ready; serves until killed.
"""
import argparse
import base64
import re
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

# ClickHouse's HTTP status for an exception code (the ones a reader meets).
STATUS_OF_CODE = {60: 404, 81: 404, 47: 400, 62: 400, 36: 400, 43: 400, 516: 401}
IDENT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    parser.add_argument("--writable", action="store_true", help="accept settings in the URL (readonly=0)")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()

    engine = chdb_session.Session(args.data)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY on every accepted socket, as ClickHouse's server (Poco's TCPServer) sets
        # it. Without it the headers and body of an answer go in two writes, the second held by
        # Nagle until the client's delayed ACK: ~40 ms added to every query on a kept-alive
        # connection, which a real server does not cost.
        disable_nagle_algorithm = True

        def log_message(self, *_):
            pass

        def reply(self, status, body, headers=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def credentials(self):
            user = self.headers.get("X-ClickHouse-User")
            key = self.headers.get("X-ClickHouse-Key")
            auth = self.headers.get("Authorization", "")
            if user is None and auth.startswith("Basic "):
                user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
            return user or "default", key or ""

        def do_GET(self):
            if urlsplit(self.path).path == "/ping":
                return self.reply(200, "Ok.\n")
            self.handle_query(b"")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.handle_query(self.rfile.read(length))

        def handle_query(self, body):
            user, key = self.credentials()
            if user != args.user or key != args.password:
                return self.reply(
                    401,
                    f"Code: 516. DB::Exception: {user}: Authentication failed: password is incorrect, "
                    "or there is no user with such name. (AUTHENTICATION_FAILED)\n",
                    [("X-ClickHouse-Exception-Code", "516")],
                )
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            sql = (params.pop("query", "") + " " + body.decode()).strip()
            database = params.pop("database", "default")
            fmt = params.pop("default_format", "TabSeparated")
            bound = {k[6:]: v for k, v in list(params.items()) if k.startswith("param_")}
            settings = [k for k in params if not k.startswith("param_")]
            if settings and not args.writable:
                return self.reply(400, f"Code: 164. DB::Exception: {user}: Cannot modify '{settings[0]}' setting "
                                  "in readonly mode. (READONLY)\n", [("X-ClickHouse-Exception-Code", "164")])
            if not IDENT_RE.match(database):
                return self.reply(400, "Code: 36. DB::Exception: bad database name. (BAD_ARGUMENTS)\n",
                                  [("X-ClickHouse-Exception-Code", "36")])
            with lock:
                try:
                    engine.query(f"USE `{database}`")
                    result = engine.query(sql, fmt, params=bound) if bound else engine.query(sql, fmt)
                    out = result.bytes() if hasattr(result, "bytes") else bytes(result)
                except Exception as error:  # the engine's own exception text
                    text = str(error)
                    match = re.search(r"Code: (\d+)", text)
                    code = int(match.group(1)) if match else 1000
                    return self.reply(STATUS_OF_CODE.get(code, 500), text + "\n",
                                      [("X-ClickHouse-Exception-Code", str(code))])
            self.reply(200, out)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

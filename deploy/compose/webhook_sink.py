"""A webhook receiver for the compose stack: prints each alert `robotwatch alerts` posts (one
JSON line on stdout, for `docker compose logs webhook`) and answers 204. It stands for the
plant's chat or ticket system; it keeps nothing."""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # an alert is a few kB; refuse anything absurd


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self.send_response(413 if length else 411)
            self.end_headers()
            return
        body = self.rfile.read(length)
        try:
            document = json.loads(body)
        except ValueError:
            document = {"unparsed": body.decode("utf-8", "replace")}
        print(json.dumps({"path": self.path, "alert": document}), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # the JSON line is the log
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Sink)
    print(f"webhook sink listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

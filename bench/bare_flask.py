"""The Flask floor for the instruction count: a bare Flask app with the service's /api/mirror route.

Same path, same answer bytes as the service (`{"transformed":"52RAbOoF"}`), the same mirror rule, and
nothing else: no request id, no log line, no metrics, no error handlers. `service / bare Flask` is then
what the service adds on top of Flask itself (bench/instructions.py).
"""

from __future__ import annotations

import json

from flask import Flask, Response, request

from mirror_service.transform import mirror

application = Flask(__name__)


@application.get("/api/mirror")
def mirror_word() -> Response:
    body = json.dumps({"transformed": mirror(request.args.get("word", ""))}, separators=(",", ":"))
    return Response(body, mimetype="application/json")

"""Schemathesis hook: signs every JSON POST with Standard Webhooks 1.0, so the run of
scripts/schemathesis covers the endpoints of a vendor that must sign (webhook_secrets).

The secret (whsec_...) comes from INSTROOM_SCHEMATHESIS_WHSEC; without it nothing is signed.
The body is serialised here, so the signature covers exactly the bytes sent.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import schemathesis

SECRET = os.environ.get("INSTROOM_SCHEMATHESIS_WHSEC", "")


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if not SECRET or case.method.upper() != "POST":
        return
    meta = getattr(case, "_meta", None) or getattr(case, "meta", None)
    data = getattr(getattr(meta, "phase", None), "data", None)
    if data is not None and getattr(data, "parameter_location", None) is not None and "header" in str(data.parameter_location).lower():
        return  # a case about a (missing or bad) header: send it as schemathesis made it
    if (case.media_type or "").split(";")[0].strip().lower() != "application/json":
        return  # refused for its media type before any signature check
    body = case.body
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode()
    elif body is None or type(body).__name__ == "NotSet":
        data = b""
    else:
        data = json.dumps(body).encode()
    kwargs["data"] = data
    msg_id = "msg_" + uuid.uuid4().hex
    ts = str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + data, hashlib.sha256).digest()).decode()
    headers = dict(case.headers or {})
    headers.update({"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + sig})
    case.headers = headers

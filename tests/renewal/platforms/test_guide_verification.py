"""The platform guide's signature verification, run as a platform would run it: Python and Node.js, each with the
`standardwebhooks` library of its language, against DESIGN's test vector signed at the current time.

Node's library is installed from tests/node/package.json and its lockfile (`npm ci`) when it is missing.
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from renewal.platforms.crypto import new_signing_secret
from renewal.platforms.signing import secret_key, signature_headers
from tests.conftest import IN_CI
from tests.renewal.platforms.test_signing import (
    VECTOR_BODY,
    VECTOR_ID,
    VECTOR_SECRET,
    VECTOR_SIGNATURE,
    VECTOR_TIMESTAMP,
)

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "docs" / "platform-guide.md"
NODE_DIR = ROOT / "tests" / "node"


def _snippet(language: str) -> str:
    """The code block the guide marks `<!-- verify: language -->`."""
    match = re.search(rf"<!-- verify: {language} -->\s*```\w+\n(.*?)```", GUIDE.read_text(), re.S)
    assert match, f"the platform guide has no {language} verification snippet"
    return match.group(1)


def _cases() -> list[tuple[str, dict, bool]]:
    """(name, headers, should verify) for the vector's id and body."""
    now = int(time.time())
    key = secret_key(VECTOR_SECRET)
    live = signature_headers(keys=[key], msg_id=VECTOR_ID, body=VECTOR_BODY, timestamp=now)
    rotation = signature_headers(keys=[secret_key(new_signing_secret()), key], msg_id=VECTOR_ID, body=VECTOR_BODY,
                                 timestamp=now)
    vector = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
              "webhook-signature": VECTOR_SIGNATURE}
    stale = signature_headers(keys=[key], msg_id=VECTOR_ID, body=VECTOR_BODY, timestamp=now - 301)
    wrong = {**live, "webhook-signature": VECTOR_SIGNATURE}
    return [("signed now", live, True), ("during a rotation", rotation, True), ("the vector as it is", vector, False),
            ("stale", stale, False), ("another signature", wrong, False)]


def test_the_guides_python_verification():
    namespace = {"SIGNING_SECRET": VECTOR_SECRET}
    exec(compile(_snippet("python"), str(GUIDE), "exec"), namespace)  # noqa: S102 (our own documentation)
    for name, headers, ok in _cases():
        result = namespace["receive"](VECTOR_BODY, headers)
        assert (result is not None) == ok, name
        if ok:
            assert result["delivery_id"] == VECTOR_ID and result["operator"] == "CMCC"


def _node_ready() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        message = "needs Node.js and npm for the guide's Node.js verification"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    installed = NODE_DIR / "node_modules" / "standardwebhooks" / "package.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True,
                       timeout=300)
    return node


def test_the_guides_node_verification():
    node = _node_ready()
    cases = [{"name": name, "headers": headers, "ok": ok} for name, headers, ok in _cases()]
    driver = _snippet("node") + """
const [casesJson, bodyText] = process.argv.slice(-2);
const cases = JSON.parse(casesJson);
const body = Buffer.from(bodyText, "utf8");
console.log(JSON.stringify(cases.map((c) => {
  const delivery = receive(body, c.headers);
  return { name: c.name, verified: delivery !== null, id: delivery && delivery.delivery_id };
})));
"""
    result = subprocess.run([node, "-e", driver, json.dumps(cases), VECTOR_BODY.decode()], cwd=NODE_DIR,
                            env={**os.environ, "SIGNING_SECRET": VECTOR_SECRET}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    answers = {a["name"]: a for a in json.loads(result.stdout)}
    for case in cases:
        assert answers[case["name"]]["verified"] == case["ok"], case["name"]
        if case["ok"]:
            assert answers[case["name"]]["id"] == VECTOR_ID

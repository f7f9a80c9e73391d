"""Validate the deploy files, each with a named tool (`make deploy-check`; CI runs it).

* compose.yaml — `docker compose config` when docker's compose plugin is here, otherwise the compose-spec JSON
  schema (vendored in check-jsonschema: `--builtin-schema vendor.compose-spec`);
* systemd/*.service, *.target — `systemd-analyze verify`, in a throwaway root that holds this machine's systemd
  units and stand-ins for the programs the units start (they live on the target machine, not here);
* gunicorn.conf.py — `gunicorn --check-config`;
* nginx/portal.conf — `crossplane parse --strict`;
* Dockerfile — dockerfile-parse, then: several stages, a non-root USER in the last one, collectstatic at build,
  tzdata, the runtime lock installed with --require-hashes, the development lock never.

Exits 1 on the first file that fails, printing the tool's words.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)


def fail(what: str, detail: str) -> None:
    print(f"FAILED {what}\n{detail.strip()}", file=sys.stderr)
    sys.exit(1)


def check_compose() -> str:
    path = DEPLOY / "compose.yaml"
    docker = shutil.which("docker")
    if docker and run([docker, "compose", "version"]).returncode == 0:
        env = {**os.environ, **dict.fromkeys(
            ["SECRET_KEY", "POSTGRES_PASSWORD", "RENEWAL_SECRETS_KEYS", "SMS_GATEWAY_URL"], "check")}
        result = run([docker, "compose", "-f", str(path), "config", "--quiet"], env=env)
        tool = "docker compose config"
    else:
        result = run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)])
        tool = "check-jsonschema (compose-spec schema)"
    if result.returncode:
        fail(f"{path.name}: {tool}", result.stdout + result.stderr)
    return tool


def check_systemd() -> str:
    units = sorted((DEPLOY / "systemd").glob("*.service")) + sorted((DEPLOY / "systemd").glob("*.target"))
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        fail("systemd units", "systemd-analyze is missing (apt-get install systemd)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
        target = root / "etc/systemd/system"
        target.mkdir(parents=True)
        (root / "etc/portal").mkdir(parents=True)
        (root / "etc/portal/portal.env").write_text("DEBUG=false\n")
        for unit in units:
            shutil.copy(unit, target / unit.name)
            for line in unit.read_text().splitlines():
                if line.startswith(("ExecStart=", "ExecStartPre=", "ExecReload=", "ExecStop=")):
                    program = shlex.split(line.split("=", 1)[1])[0].lstrip("-@+!")
                    stand_in = root / program.lstrip("/")
                    stand_in.parent.mkdir(parents=True, exist_ok=True)
                    stand_in.write_text("#!/bin/sh\n")
                    stand_in.chmod(0o755)
        result = run([analyze, "verify", f"--root={root}", "--man=no", "--generators=no",
                      *[f"/etc/systemd/system/{u.name}" for u in units]])
    # A warning (an unknown key, a bad value) leaves the exit status at 0: any word from the tool fails too.
    if result.returncode or result.stdout.strip() or result.stderr.strip():
        fail("systemd units: systemd-analyze verify", result.stdout + result.stderr)
    return f"systemd-analyze verify ({len(units)} units)"


def check_gunicorn() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DEBUG": "true", "PROMETHEUS_MULTIPROC_DIR": tmp, "PORTAL_VAR_DIR": tmp}
        env.pop("DATABASE_URL", None)
        result = run([str(BIN / "gunicorn"), "--check-config", "-c", "deploy/gunicorn.conf.py", "portal.wsgi"],
                     env=env)
    if result.returncode:
        fail("gunicorn.conf.py: gunicorn --check-config", result.stdout + result.stderr)
    sys.path.insert(0, str(DEPLOY))
    config: dict = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)  # noqa: S102
    expected = {"worker_class": "gthread", "accesslog": "-"}
    for name, value in expected.items():
        if config.get(name) != value:
            fail("gunicorn.conf.py", f"{name} must be {value!r}, not {config.get(name)!r}")
    for name in ("max_requests", "max_requests_jitter", "timeout", "graceful_timeout", "forwarded_allow_ips",
                 "logconfig_dict"):
        if not config.get(name):
            fail("gunicorn.conf.py", f"{name} must be set")
    return "gunicorn --check-config"


def check_nginx() -> str:
    result = run([str(BIN / "crossplane"), "parse", "--single-file", "--strict", "deploy/nginx/portal.conf"])
    parsed = json.loads(result.stdout or "{}")
    if result.returncode or parsed.get("status") != "ok":
        fail("nginx/portal.conf: crossplane parse", json.dumps(parsed.get("errors"), indent=1) + result.stderr)
    return "crossplane parse --strict"


def check_dockerfile() -> str:
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    instructions = parser.structure
    stages = [i for i in instructions if i["instruction"] == "FROM"]
    if len(stages) < 2:
        fail("Dockerfile", "a multi-stage build is expected (build, then run)")
    last_from = max(i["startline"] for i in stages)
    final = [i for i in instructions if i["startline"] >= last_from]
    users = [i["value"].split(":")[0].strip() for i in final if i["instruction"] == "USER"]
    if not users or users[-1] in ("root", "0"):
        fail("Dockerfile", "the last stage must switch to a non-root USER")
    runs = " ".join(i["value"] for i in instructions if i["instruction"] == "RUN")
    final_runs = " ".join(i["value"] for i in final if i["instruction"] == "RUN")
    problems = [message for ok, message in [
        ("collectstatic" in runs, "collectstatic must run at build time"),
        ("tzdata" in final_runs, "the last stage must install tzdata"),
        ("--require-hashes -r requirements.lock" in runs, "install requirements.lock with --require-hashes"),
        ("requirements-dev" not in runs, "the development lock is never installed in the image"),
        (any(i["instruction"] == "HEALTHCHECK" for i in final), "the last stage needs a HEALTHCHECK"),
    ] if not ok]
    if problems:
        fail("Dockerfile", "\n".join(problems))
    return f"dockerfile-parse ({len(stages)} stages, USER {users[-1]})"


def main() -> None:
    for name, check in [("compose.yaml", check_compose), ("systemd", check_systemd),
                        ("gunicorn.conf.py", check_gunicorn), ("nginx/portal.conf", check_nginx),
                        ("Dockerfile", check_dockerfile)]:
        print(f"ok  deploy/{name}: {check()}")


if __name__ == "__main__":
    main()

"""Our fixture override for py-consul's upstream tests (scripts/py-consul).

Upstream's fixtures (its root conftest.py) start `hashicorp/consul` in Docker, once per entry of
CONSUL_VERSIONS. scripts/py-consul copies this file to tests/api/conftest.py of a scratch
copy of py-consul's tests, where it is closer to the test files than upstream's and so wins:
`acl_consul_instance` and `consul_instance` below start OUR `consul` binary ($CONSUL_BIN), once
per test (no version parametrization), and yield what upstream's do.

Config: the same as upstream's CONSUL_LOCAL_CONFIG and `agent -dev` command, except
  * "primary_datacenter": "dc1" is dropped: this agent refuses the key when set (WAN federation
    is not implemented). Upstream sets it to the agent's own datacenter, which makes this agent
    the ACL primary; a single-datacenter agent is its own primary anyway (agent/self reports
    PrimaryDatacenter "dc1"), so the meaning is unchanged.
  * "-client=0.0.0.0" becomes 127.0.0.1 (upstream needs 0.0.0.0 for Docker's port mapping;
    here the test talks to the loopback only). The HTTP port is 8500, as inside upstream's
    container, whenever 8500 is free: upstream's HTTP-check tests probe http://localhost:8500,
    the agent itself; when 8500 is taken a free port is used and a warning printed, and those
    tests fail (they are not skipped). The server port is a free loopback port.
  * the gossip port (UDP) is the server port's number, so agents started one after another
    never collide on 8301.
  * "-log-level trace" is kept; the agent's output goes to logs/<test name>.log as upstream's.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import warnings

import pytest
import requests
from requests import RequestException

# The shape of upstream's ConsulInstance: `container` holds our process instead of a container.
ConsulInstance = collections.namedtuple("ConsulInstance", ["container", "port", "version"])

CONSUL_BIN = os.environ.get("CONSUL_BIN") or "target/debug/consul"
LOGS_DIR = os.environ.get("PY_CONSUL_LOGS") or os.path.join(os.path.dirname(__file__), "logs")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_port() -> int:
    """8500 when it is free (see the module docstring), else a free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the agent binds (SO_REUSEADDR): the last agent's closed connections in TIME_WAIT
        # do not make the port look taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", 8500))
            return 8500
        except OSError:
            pass
    warnings.warn("127.0.0.1:8500 is taken: the agent listens elsewhere and upstream's "
                  "HTTP-check tests, which probe localhost:8500, will fail")
    return _free_port()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start(request, acl_master_token: str | None):
    config = {
        "ports": {"https": -1, "dns": -1, "grpc_tls": -1, "http": _http_port(), "server": _free_port()},
        "performance": {"raft_multiplier": 1},
        "enable_script_checks": True,
    }
    # Gossip (UDP) on the server port's number, not the default 8301 another agent may hold.
    config["ports"]["serf_lan"] = config["ports"]["server"]
    if acl_master_token:
        config["acl"] = {"enabled": True, "tokens": {"initial_management": acl_master_token}}
    port = config["ports"]["http"]

    # -dev keeps its state in $TMPDIR/consul-dev-*: a scratch TMPDIR per test, removed below
    # even if the agent had to be killed.
    scratch = tempfile.mkdtemp(prefix="py-consul-agent-")
    config_file = os.path.join(scratch, "config.json")
    with open(config_file, "w", encoding="utf-8") as f:
        json.dump(config, f)
    os.makedirs(LOGS_DIR, exist_ok=True)
    log_path = os.path.join(LOGS_DIR, f"{request.node.name}.log")
    log = open(log_path, "wb")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [CONSUL_BIN, "agent", "-dev", "-client=127.0.0.1",
         f"-config-file={config_file}", "-log-level", "trace"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "TMPDIR": scratch},
    )

    def cleanup():
        _stop(proc)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)

    try:
        base_uri = f"http://127.0.0.1:{port}/v1/"
        deadline = time.time() + 10  # upstream's global_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"consul exited with {proc.returncode}; see {log_path}")
            if time.time() > deadline:
                raise TimeoutError(f"no leader within 10s; see {log_path}")
            time.sleep(0.1)
            try:
                r = requests.get(base_uri + "status/leader", timeout=2)
                if r.status_code == 200 and r.json():
                    break
            except RequestException:
                continue
        # Upstream's "additional check": the anonymous token (default policy allow) registers,
        # sees and deregisters a service.
        for _ in range(10):
            try:
                requests.put(base_uri + "agent/service/register", json={"name": "test-service"}, timeout=2)
                r = requests.get(base_uri + "health/service/test-service", timeout=2)
                if r.status_code == 200 and r.json():
                    requests.put(base_uri + "agent/service/deregister/test-service", timeout=2)
                    break
            except RequestException:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError(f"Failed to verify Consul startup; see {log_path}")
        # Upstream's get_consul_version.
        version = requests.get(base_uri + "agent/self", timeout=10).json()["Config"]["Version"].strip()
    except BaseException:
        cleanup()
        raise
    return ConsulInstance(proc, port, version), cleanup


def _setup_and_teardown(request, acl_master_token: str | None = None):
    instance, cleanup = _start(request, acl_master_token)
    try:
        yield instance if acl_master_token is None else (instance, acl_master_token)
    finally:
        cleanup()


# No `params=CONSUL_VERSIONS`: one run per test, against the binary under test.
@pytest.fixture
def consul_instance(request):
    yield from _setup_and_teardown(request)


@pytest.fixture
def acl_consul_instance(request):
    yield from _setup_and_teardown(request, acl_master_token=uuid.uuid4().hex)

"""Starting or joining Ray, and the nodes nums places blocks on.

``nums.init(backend="ray")`` with no address starts a private local Ray (``address="local"``,
so it never attaches to some other process's cluster by accident) and stops it at shutdown.
With ``address=`` (``"auto"``, ``"host:port"``, ``"ray://host:port"``), with ``RAY_ADDRESS`` set,
or when ``ray.is_initialized()`` already, nums joins that cluster and leaves it running. A
``host:port`` address is probed over TCP first, so an unreachable one fails fast with a
``ConnectionError`` that names it (Ray alone retries for about half a minute).

The node table is read from the GCS with a deadline (:data:`GCS_TIMEOUT_S` while a job waits,
:data:`PROBE_TIMEOUT_S` when a session starts): ``ray.nodes()`` blocks for as long as Ray
retries (a minute, after which Ray ends the process) when the cluster is gone.
:func:`connection_token` tells one Ray connection of this process from a later one, cheaply
(no round trip), so the executor can see that Ray was shut down or started again under it.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

__all__ = ["RayNode", "connect", "alive_nodes", "alive_node_ids", "check_reachable",
           "connection_token", "gcs_address", "GCS_TIMEOUT_S", "TESTING_OBJECT_STORE"]

# A locally started Ray in testing mode keeps its object store small (tests share machines).
TESTING_OBJECT_STORE = 512 * 2**20
TESTING_MAX_CPUS = 2
PROBE_TIMEOUT_S = 10.0
GCS_TIMEOUT_S = 2.0  # a node table read that takes longer means the GCS does not answer


@dataclass(frozen=True)
class RayNode:
    """One alive Ray node with CPUs: its id (hex), address and CPU count."""

    node_id: str
    address: str
    cpus: float

    def describe(self) -> str:
        """``node <id> at <address>``, for messages."""
        return f"node {self.node_id} at {self.address}"


def alive_nodes(timeout: float | None = PROBE_TIMEOUT_S) -> list[RayNode]:
    """Alive nodes with at least one CPU, sorted by node id (a fixed order for a cluster).

    Nodes without CPUs (e.g. a head started with ``--num-cpus=0``) are left out: a task pinned
    there could never start.

    Raises
    ------
    ConnectionError
        If the cluster's GCS does not answer within ``timeout`` seconds.
    """
    try:
        table = _node_table(timeout)
    except Exception as exc:
        raise ConnectionError("the Ray cluster this process is connected to does not answer "
                              f"({type(exc).__name__}: {exc}); it was stopped or its head node "
                              "died: call ray.shutdown() and start or join a Ray again") from exc
    nodes = [RayNode(node_id, address, cpus) for node_id, address, cpus, alive in table
             if alive and cpus >= 1]
    return sorted(nodes, key=lambda n: n.node_id)


def alive_node_ids(timeout: float | None = GCS_TIMEOUT_S) -> set[str]:
    """Ids of the nodes Ray reports alive.

    Raises
    ------
    Exception
        Ray's error (e.g. ``ray.exceptions.RpcError``) if the GCS does not answer within
        ``timeout`` seconds, or Ray is not connected.
    """
    return {node_id for node_id, _, _, alive in _node_table(timeout) if alive}


def _node_table(timeout: float | None) -> list[tuple[str, str, float, bool]]:
    """``(node id, address, CPUs, alive)`` of every node the GCS knows, read with a deadline
    through the driver's GCS client (``ray.nodes()`` in Ray Client mode, which has none)."""
    import ray

    if not ray.is_initialized():  # guard: Ray's APIs would start a new Ray
        raise RuntimeError("Ray is not running in this process")
    gcs = _gcs_client()
    if gcs is None:
        return [(info["NodeID"], str(info.get("NodeManagerAddress", "?")),
                 float(info.get("Resources", {}).get("CPU", 0.0)), bool(info.get("Alive")))
                for info in ray.nodes()]
    from ray.core.generated.gcs_pb2 import GcsNodeInfo

    return [(node_id.hex(), str(info.node_manager_address or "?"),
             float(info.resources_total.get("CPU", 0.0)), info.state == GcsNodeInfo.ALIVE)
            for node_id, info in gcs.get_all_node_info(timeout=timeout).items()]


def _gcs_client() -> Any:
    """The driver's GCS client; None in Ray Client mode or where Ray has none to offer."""
    try:
        from ray._private.worker import global_worker
        from ray.util.client import ray as client

        if client.is_connected():
            return None
        gcs = global_worker.gcs_client
        return gcs if hasattr(gcs, "get_all_node_info") else None
    except Exception:  # Ray internals moved: fall back on ray.nodes()
        return None


def gcs_address() -> str | None:
    """The address of the cluster's GCS this process is connected to (for messages), read
    locally; None when not known (Ray Client mode)."""
    from ray._private.worker import global_worker

    try:
        return str(global_worker.node.gcs_address)
    except Exception:
        return None


def connection_token() -> Any:
    """What tells this process's Ray connection from a later one (after ``ray.shutdown()`` and
    ``ray.init()``): the cluster's session name and the driver's job id, read locally (about a
    microsecond). None in Ray Client mode, where only ``ray.is_initialized()`` is checked."""
    from ray._private.worker import global_worker

    try:
        return global_worker.node.session_name, global_worker.current_job_id
    except Exception:  # Ray Client mode (no local node) or not connected
        return None


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``host:port`` or ``ray://host:port`` address, else None."""
    text = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def check_reachable(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise ConnectionError naming ``address`` if nothing accepts connections there.

    Parameters
    ----------
    address : str
        A Ray address; ``"auto"`` and other forms without a port are not probed.
    timeout : float
        Seconds to wait for the TCP connection.
    """
    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as exc:
        raise ConnectionError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None


def connect(address: str | None, *, num_cpus: int | None, object_store_memory: int | None,
            testing: bool, ray_options: dict[str, Any], default_cpus: int | None = None) -> bool:
    """Start or join Ray.

    Parameters
    ----------
    address : str or None
        Cluster to join; None starts a local Ray (unless ``RAY_ADDRESS`` is set).
    num_cpus, object_store_memory : int or None
        Resources of a locally started Ray (refused when joining a cluster).
    testing : bool
        Testing mode: a local Ray gets at most 2 CPUs and a 512 MB object store by default.
    ray_options : dict
        Further keyword arguments for ``ray.init``.
    default_cpus : int, optional
        CPUs of a local Ray when ``num_cpus`` is not given (nums' ``workers`` setting);
        ignored when joining.

    Returns
    -------
    bool
        True when this call started Ray (so nums stops it at shutdown).
    """
    import ray

    if ray.is_initialized():
        if num_cpus is not None or object_store_memory is not None:
            raise ValueError("num_cpus and object_store_memory size a Ray that nums starts; "
                             "Ray is already running in this process")
        return False
    if address is None or address == "local":
        address = None if address == "local" else os.environ.get("RAY_ADDRESS") or None
    options = dict(ray_options)
    options.setdefault("logging_level", logging.WARNING)
    if address is None:
        if num_cpus is None:
            num_cpus = default_cpus or os.cpu_count() or 1
            if testing:
                num_cpus = min(num_cpus, TESTING_MAX_CPUS)
        if object_store_memory is None and testing:
            object_store_memory = TESTING_OBJECT_STORE
        options.setdefault("include_dashboard", False)
        ray.init(address="local", num_cpus=num_cpus, object_store_memory=object_store_memory,
                 **options)
        return True
    if num_cpus is not None or object_store_memory is not None:
        raise ValueError("num_cpus and object_store_memory size a Ray that nums starts; they "
                         f"cannot be given when joining the cluster at {address!r}")
    check_reachable(address)
    try:
        ray.init(address=address, **options)
    except (ValueError, TypeError):
        raise
    except Exception as exc:  # Ray raises several types for a cluster it cannot join
        hint = ""
        if address.startswith("ray://") and "RAY_AUTH_MODE" not in os.environ:
            hint = ("; if the cluster uses token authentication (the default of a Ray it "
                    "started itself), set RAY_AUTH_MODE=token and its token in RAY_AUTH_TOKEN "
                    "or ~/.ray/auth_token: Ray's client does not look for a token otherwise")
        raise ConnectionError(f"cannot connect to the Ray cluster at {address!r}: {exc}{hint}") \
            from None
    return False

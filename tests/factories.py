"""Factories that create test images, containers and networks in the sandbox.

Each factory names what it makes ``deployd-test-<hex>``, labels it
``deployd.test=1`` and removes it in ``cleanup()``, which the fixtures in
conftest.py call in ``finally``. Tests annotate their fixture arguments with
these classes.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.sandbox import TEST_LABEL, Sandbox

DEFAULT_CONTAINER_ARGS = ("--init", "--network", "none")


def unique_name() -> str:
    """Return a fresh ``deployd-test-<hex>`` name."""
    return f"deployd-test-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class BuiltImage:
    """An image the factory built and (unless asked not to) pushed."""

    ref: str
    id: str
    repository: str
    tag: str
    digest: str

    def __str__(self) -> str:
        return self.ref


@dataclass(frozen=True)
class StartedContainer:
    """A container the factory created (and started, unless asked not to)."""

    name: str
    id: str
    image: str


@dataclass(frozen=True)
class CreatedNetwork:
    """A network the factory created."""

    name: str
    id: str


class ImageFactory:
    """Build busybox images with chosen config and push them to a sandbox registry.

    Call it to build ``REGISTRY/deployd-test-<hex>:TAG``. To publish a new
    version of an image under the same tag, pass its ``repository`` and another
    ``version``: the new /version file makes a new top layer and a new image id.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.made: list[str] = []

    def __call__(
        self,
        *,
        tag: str = "latest",
        version: str = "v1",
        repository: str | None = None,
        auth: bool = False,
        push: bool = True,
        env: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        cmd: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        healthcheck: str | None = None,
        volumes: Sequence[str] = (),
        exposed_ports: Sequence[str] = (),
        stop_signal: str | None = None,
        workdir: str | None = None,
        user: str | None = None,
    ) -> BuiltImage:
        """Build, push and return the image.

        ``auth`` pushes to the htpasswd registry; ``healthcheck`` is the text
        after HEALTHCHECK in a Dockerfile (``"--interval=1s CMD true"``, ``"NONE"``);
        ``exposed_ports`` take Dockerfile form (``"8080/tcp"``). The image keeps
        the base image's ``sleep infinity`` command unless ``cmd`` is given.
        """
        registry = self.sandbox.auth_registry if auth else self.sandbox.registry
        repository = repository or f"{registry}/{unique_name()}"
        ref = f"{repository}:{tag}"
        lines = [
            f"FROM {self.sandbox.base_image}",
            # The repository label gives every test image an id of its own,
            # even when two tests build identical contents.
            _label_line({"deployd.test": "1", "deployd.test.repository": repository}),
            *([_label_line(labels)] if labels else []),
            *(f"ENV {key}={json.dumps(value)}" for key, value in (env or {}).items()),
            "COPY version /version",
            *([f"WORKDIR {workdir}"] if workdir else []),
            *([f"USER {user}"] if user else []),
            *([f"VOLUME {json.dumps(list(volumes))}"] if volumes else []),
            *(f"EXPOSE {port}" for port in exposed_ports),
            *([f"STOPSIGNAL {stop_signal}"] if stop_signal else []),
            *([f"HEALTHCHECK {healthcheck}"] if healthcheck else []),
            *([f"ENTRYPOINT {json.dumps(list(entrypoint))}"] if entrypoint else []),
            *([f"CMD {json.dumps(list(cmd))}"] if cmd is not None else []),
        ]
        image_id = self._build(ref, "\n".join(lines) + "\n", f"{version}\n")
        digest = self._push(ref, repository, auth) if push else ""

        return BuiltImage(ref, image_id, repository, tag, digest)

    def _build(self, ref: str, dockerfile: str, version: str) -> str:
        with tempfile.TemporaryDirectory(prefix="deployd-test-image-") as context:
            Path(context, "Dockerfile").write_text(dockerfile)
            Path(context, "version").write_text(version)
            self.made.append(ref)
            self.sandbox.cli("build", "--network", "none", "-q", "-t", ref, context)
        image_id = self.sandbox.cli("image", "inspect", "-f", "{{.Id}}", ref).stdout
        self.made.append(image_id.strip())

        return image_id.strip()

    def _push(self, ref: str, repository: str, auth: bool) -> str:
        self.sandbox.cli("push", ref, login=auth)
        listed = self.sandbox.cli(
            "image", "inspect", "-f", "{{json .RepoDigests}}", ref
        ).stdout
        digests = [d for d in json.loads(listed) if d.startswith(f"{repository}@")]

        return digests[0] if digests else ""

    def cleanup(self) -> None:
        """Remove every local image this factory made (tags, then ids)."""
        if self.made:
            self.sandbox.cli("rmi", "-f", *reversed(self.made), check=False)


class ContainerFactory:
    """Create and start labelled test containers; remove them and their renames.

    Deploys rename a container aside (``NAME.deployd-old-...``) or recreate it
    under the same name, so cleanup removes every container whose name starts
    with a name this factory handed out.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.names: list[str] = []

    def __call__(
        self,
        image: str | BuiltImage,
        *,
        command: Sequence[str] = (),
        args: Sequence[str] = DEFAULT_CONTAINER_ARGS,
        name: str | None = None,
        start: bool = True,
    ) -> StartedContainer:
        """Create (``docker run -d``, or ``docker create`` without ``start``).

        ``args`` are extra docker CLI options and replace the default
        ``--init --network none``; ``name`` must start with ``deployd-test-``.
        Returns the container's name, full id and image reference.
        """
        name = name or unique_name()
        if not name.startswith("deployd-test-"):
            raise ValueError(f"test container name {name} must start deployd-test-")
        self.names.append(name)
        verb = ["run", "-d"] if start else ["create"]
        options = ["--name", name, "--label", TEST_LABEL, *args]
        result = self.sandbox.cli(*verb, *options, str(image), *command, login=True)

        return StartedContainer(name, result.stdout.strip(), str(image))

    def cleanup(self) -> None:
        """Remove (``-f -v``) every container named after one this factory made."""
        if not self.names:
            return
        listed = self.sandbox.cli("ps", "-a", "--format", "{{.ID}} {{.Names}}")
        doomed = [
            cid
            for cid, _, cname in (
                line.partition(" ") for line in listed.stdout.splitlines()
            )
            if any(cname.startswith(name) for name in self.names)
        ]
        if doomed:
            self.sandbox.cli("rm", "-f", "-v", *doomed)


class NetworkFactory:
    """Create labelled internal networks; remove them at cleanup."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.names: list[str] = []

    def __call__(self, *, name: str | None = None) -> CreatedNetwork:
        """Create an ``--internal`` network and return its name and id."""
        name = name or unique_name()
        self.names.append(name)
        result = self.sandbox.cli(
            "network", "create", "--internal", "--label", TEST_LABEL, name
        )

        return CreatedNetwork(name, result.stdout.strip())

    def cleanup(self) -> None:
        """Remove the networks, disconnecting any container still attached."""
        for name in self.names:
            if self.sandbox.cli("network", "rm", name, check=False).returncode:
                self._disconnect_all(name)
                self.sandbox.cli("network", "rm", name, check=False)

    def _disconnect_all(self, network: str) -> None:
        listed = self.sandbox.cli(
            "network", "inspect", "-f", "{{json .Containers}}", network, check=False
        )
        if listed.returncode:
            return
        for container in json.loads(listed.stdout or "{}") or {}:
            self.sandbox.cli(
                "network", "disconnect", "-f", network, container, check=False
            )


def _label_line(labels: Mapping[str, str]) -> str:
    pairs = (f"{json.dumps(key)}={json.dumps(value)}" for key, value in labels.items())

    return "LABEL " + " ".join(pairs)

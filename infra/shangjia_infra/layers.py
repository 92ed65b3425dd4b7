"""The two Lambda layers: the core (our ``shangjia`` package) and the third-party dependencies."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from aws_cdk import Annotations
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .settings import BUILD_LAYER_SCRIPT, CORE_LAYER_DIR, DEPS_LAYER, Settings, asset_excludes

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64


def build_dependency_layer() -> Path:
    """Run layers/build.sh (pip, manylinux aarch64 cp312 wheels, no Docker); returns the layer dir.

    The result is cached under .build/ keyed on requirements.txt's hash, so only the first synth
    after a pin changes pays for the download."""
    proc = subprocess.run(["bash", str(BUILD_LAYER_SCRIPT)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{BUILD_LAYER_SCRIPT} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


class Layers(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: Settings) -> None:
        super().__init__(scope, id)
        self.core = lambda_.LayerVersion(
            self, "Core",
            # The local cloud (moto, loopback servers) never runs in Lambda: keep it out of the layer.
            code=lambda_.Code.from_asset(str(CORE_LAYER_DIR),
                                         exclude=[*asset_excludes(), "python/shangjia/localcloud"]),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="shangjia: the domain core (python/shangjia)",
        )
        if settings.deps_layer == "build":
            deps_dir = build_dependency_layer()
        else:
            # Tests only: an empty layer so synth never waits on PyPI. Deploying it would break
            # every function at import, so the CLI refuses to synth/deploy with this error.
            deps_dir = Path(tempfile.mkdtemp(prefix="shangjia-deps-placeholder-"))
            (deps_dir / "python").mkdir()
            (deps_dir / "python" / "PLACEHOLDER.txt").write_text("built without dependencies; do not deploy\n")
            Annotations.of(self).add_error(
                f"context {DEPS_LAYER}=placeholder: the dependency layer is empty (tests only); "
                f"synth without it to build the real layer")
        self.deps = lambda_.LayerVersion(
            self, "Deps",
            code=lambda_.Code.from_asset(str(deps_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="third-party packages of requirements.txt for python3.12 arm64",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.deps, self.core]

import pytest

from shangjia.localcloud import LocalCloud
from shangjia.localcloud.demo import DEMO_CLOCK


@pytest.fixture(scope="session")
def cloud():
    """One local cloud per test process (moto's server on loopback, the real handlers)."""
    with LocalCloud(clock=DEMO_CLOCK, visibility_timeout_s=1) as c:
        yield c


@pytest.fixture(scope="session")
def deps(cloud):
    from shangjia.pipeline.deps import aws_deps

    return aws_deps()

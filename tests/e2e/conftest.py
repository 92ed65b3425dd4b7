import pytest

from shangjia.localcloud import LocalCloud
from shangjia.localcloud.demo import DEMO_CLOCK


@pytest.fixture(scope="module")
def cloud():
    """One local cloud per test module. Not per session: moto's backends are process-global, and a
    cloud left polling would consume messages inside later (mock_aws) tests on the same worker. (moto's server on loopback, the real handlers)."""
    with LocalCloud(clock=DEMO_CLOCK, visibility_timeout_s=1) as c:
        yield c


@pytest.fixture(scope="module")
def deps(cloud):
    from shangjia.pipeline.deps import aws_deps

    return aws_deps()

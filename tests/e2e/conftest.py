import pytest

from shangjia.localcloud import LocalCloud
from shangjia.localcloud.demo import DEMO_CLOCK


@pytest.fixture(scope="module")
def cloud():
    """One local cloud per test module. Not per session: moto's backends are process-global, and a
    cloud left polling would consume messages inside later (mock_aws) tests on the same worker. (moto's server on loopback, the real handlers)."""
    with LocalCloud(clock=DEMO_CLOCK, visibility_timeout_s=1) as c:
        # The deployment default audits 5 % of VIP products by hand, picked by a hash of the
        # execution name, which holds the upload's S3 version id (random): these tests follow one
        # path per product, so the sample is off here; the audit path has its own test (rate 1).
        from shangjia.pipeline.config import set_setting
        from shangjia.pipeline.deps import aws_deps

        set_setting(aws_deps().store, "audit_sample_rate", 0)
        yield c


@pytest.fixture(scope="module")
def deps(cloud):
    from shangjia.pipeline.deps import aws_deps

    return aws_deps()

import os

import pytest

from shangjia.localcloud import LocalCloud
from shangjia.localcloud.demo import DEMO_CLOCK


@pytest.fixture(scope="module")
def cloud(request):
    """One local cloud per test module. Not per session: moto's backends are process-global, and a
    cloud left polling would consume messages inside later (mock_aws) tests on the same worker. (moto's server on loopback, the real handlers).
    The handlers run in worker processes, as on Lambda; a module that patches what the handlers
    import says ``HANDLERS_IN_PROCESS = True`` and gets them in this process's threads."""
    in_process = getattr(request.module, "HANDLERS_IN_PROCESS", False)
    # These tests change a merchant's profile in the table between steps and look for the effect at
    # once: the handlers' warm-profile window (merchants.profile_ttl_s, 30 s) is off here; its own
    # test is tests/integration/test_handlers.py::test_a_validate_batch_reads_its_merchant_once.
    before = os.environ.get("SHANGJIA_MERCHANT_TTL_S")
    os.environ["SHANGJIA_MERCHANT_TTL_S"] = "0"
    try:
        yield from _cloud(in_process)
    finally:
        if before is None:
            os.environ.pop("SHANGJIA_MERCHANT_TTL_S", None)
        else:
            os.environ["SHANGJIA_MERCHANT_TTL_S"] = before


def _cloud(in_process: bool):
    with LocalCloud(clock=DEMO_CLOCK, visibility_timeout_s=1, sandboxes=not in_process) as c:
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

"""The web app's hosting: a private bucket read only by CloudFront (origin access control), web/
deployed into it, /api and /auth forwarded to the HTTP API; cdk-nag clean with reasons."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from infra_support import as_list

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The Web construct alone in a stack, synthesized with the AwsSolutions pack (as the app is)."""
    pytest.importorskip("aws_cdk")
    if str(INFRA_DIR) not in sys.path:
        sys.path.insert(0, str(INFRA_DIR))
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from shangjia_infra.nag import acknowledge, add_nag
    from shangjia_infra.web import Web

    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out.web")))
    stack = Stack(app, "WebOnly")
    logs = s3.Bucket(stack, "Logs", enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
    acknowledge(logs, "S1", "The access-log bucket itself (Storage.access_logs in the real stack).")
    w = Web(stack, "Web", access_logs=logs, api_url=API_URL)
    add_nag(app)
    error = None
    try:
        app.synth()
    except Exception as e:  # noqa: BLE001 - reported by the nag test
        error = e
    resources = json.loads(json.dumps(Template.from_stack(stack).to_json()))["Resources"]
    return stack, w, resources, error


def _of(resources, t):
    return {k: v for k, v in resources.items() if v["Type"] == t}


def test_web_hosting_is_cdk_nag_clean(web):
    _, _, _, error = web
    assert error is None, f"cdk-nag findings on the web hosting: {error}"


def test_site_bucket_is_private_and_read_only_through_origin_access_control(web):
    stack, w, resources, _ = web
    site = stack.resolve(stack.get_logical_id(w.bucket.node.default_child))
    props = resources[site]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert "WebsiteConfiguration" not in props          # not an S3 website endpoint: CloudFront only
    oacs = _of(resources, "AWS::CloudFront::OriginAccessControl")
    assert len(oacs) == 1
    assert next(iter(oacs.values()))["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    policy = next(v for v in _of(resources, "AWS::S3::BucketPolicy").values()
                  if v["Properties"]["Bucket"] == {"Ref": site})
    reads = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert reads and all(s["Principal"] == {"Service": "cloudfront.amazonaws.com"} for s in reads)
    assert all(as_list(s["Action"]) == ["s3:GetObject"] for s in reads)


def test_distribution_serves_index_over_https_and_forwards_the_api(web):
    _, _, resources, _ = web
    (dist,) = _of(resources, "AWS::CloudFront::Distribution").values()
    cfg = dist["Properties"]["DistributionConfig"]
    assert cfg["DefaultRootObject"] == "index.html"
    assert cfg["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert "Logging" in cfg
    behaviors = {b["PathPattern"]: b for b in cfg["CacheBehaviors"]}
    assert set(behaviors) == {"/api/*", "/auth/*"}
    origins = {o["Id"]: o for o in cfg["Origins"]}
    for b in behaviors.values():
        origin = origins[b["TargetOriginId"]]
        assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert "POST" in b["AllowedMethods"] and "PUT" in b["AllowedMethods"]
        assert b["ViewerProtocolPolicy"] == "https-only"
    (cache,) = _of(resources, "AWS::CloudFront::CachePolicy").values()
    c = cache["Properties"]["CachePolicyConfig"]
    assert c["DefaultTTL"] == 0 and c["MinTTL"] == 0
    assert c["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"] == ["Authorization"]


def test_web_folder_is_deployed_and_invalidated(web):
    _, _, resources, _ = web
    (dep,) = _of(resources, "Custom::CDKBucketDeployment").values()
    assert dep["Properties"]["DistributionPaths"] == ["/*"]
    assert dep["Properties"]["Prune"] is True
    # the handler's only grant on '*' is the invalidation (acknowledged as such in web.py)
    for p in _of(resources, "AWS::IAM::Policy").values():
        for s in p["Properties"]["PolicyDocument"]["Statement"]:
            if s.get("Resource") == "*":
                assert all(a.startswith("cloudfront:") for a in as_list(s["Action"])), s


def test_stack_wires_the_web_app(synth):
    """The real stack has the Web construct and prints its URL."""
    assert synth.stack.web.bucket is not None
    outputs = synth.template.to_json()["Outputs"]
    assert "WebUrl" in outputs
    assert len(synth.of_type("AWS::CloudFront::Distribution")) == 1

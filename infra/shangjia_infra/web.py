"""The web app (``web/``, static files, no build step) on S3 behind CloudFront.

The bucket is private: only the distribution reads it, through origin access control (OAC).
``/api/*`` and ``/auth/*`` go to the HTTP API through the same distribution, so the pages call
the API on their own origin (no CORS, the ID token never leaves it). ``BucketDeployment`` copies
``web/`` into the bucket and invalidates the distribution on every deploy.
"""

from __future__ import annotations

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cf
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from shangjia.topology import REPO_ROOT

from .nag import _arn_ref, acknowledge

WEB_ROOT = REPO_ROOT / "web"
API_PATHS = ("/api/*", "/auth/*")


class Web(Construct):
    def __init__(self, scope: Construct, id: str, *, access_logs: s3.IBucket, api_url: str) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self, "Site",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="web/",
            removal_policy=RemovalPolicy.DESTROY,       # only the app's own files: the deploy writes them again
        )
        # CloudFront's standard logs are written with object ACLs, which the other log bucket refuses.
        self.cdn_logs = s3.Bucket(
            self, "CdnLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="cdn-logs/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-cdn-logs", expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )

        # The API: never cached, the viewer's headers (Authorization included: it is in the cache key,
        # which is how CloudFront forwards it) and query strings passed on.
        api_cache = cf.CachePolicy(
            self, "ApiCache", comment="Shangjia API: no caching, Authorization forwarded",
            default_ttl=Duration.seconds(0), min_ttl=Duration.seconds(0), max_ttl=Duration.seconds(1),
            header_behavior=cf.CacheHeaderBehavior.allow_list("Authorization"),
            query_string_behavior=cf.CacheQueryStringBehavior.all(),
            cookie_behavior=cf.CacheCookieBehavior.none(),
        )
        api_origin = origins.HttpOrigin(Fn.select(2, Fn.split("/", api_url)),
                                        protocol_policy=cf.OriginProtocolPolicy.HTTPS_ONLY)
        api_behavior = cf.BehaviorOptions(
            origin=api_origin, allowed_methods=cf.AllowedMethods.ALLOW_ALL, cache_policy=api_cache,
            origin_request_policy=cf.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            viewer_protocol_policy=cf.ViewerProtocolPolicy.HTTPS_ONLY,
        )
        self.distribution = cf.Distribution(
            self, "Cdn",
            comment="Shangjia web app",
            default_root_object="index.html",
            default_behavior=cf.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cf.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cf.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cf.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            additional_behaviors={p: api_behavior for p in API_PATHS},
            minimum_protocol_version=cf.SecurityPolicyProtocol.TLS_V1_2_2021,
            enable_logging=True, log_bucket=self.cdn_logs, log_file_prefix="cdn/",
            price_class=cf.PriceClass.PRICE_CLASS_ALL,
        )
        self.deployment = s3deploy.BucketDeployment(
            self, "Deploy",
            sources=[s3deploy.Source.asset(str(WEB_ROOT))],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
        )
        self._acknowledge()

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"

    def _acknowledge(self) -> None:
        acknowledge(self.distribution, "CFR1",
                    "Merchants and staff sign in from wherever they work; access is decided by the Cognito "
                    "sign-in and the API's role rules, not by country.")
        acknowledge(self.distribution, "CFR2",
                    "The distribution serves static files and forwards /api and /auth to the HTTP API, which "
                    "has its own stage throttling and JWT authorizer; a WAF web ACL is a per-deployment choice "
                    "(cost per rule and request) left to the operator.")
        acknowledge(self.distribution, "CFR4",
                    "No custom domain in this stack: the default *.cloudfront.net certificate is used, whose "
                    "viewer TLS floor CloudFront sets itself; with a custom domain the distribution's "
                    "minimum_protocol_version (TLSv1.2_2021) applies.")
        # BucketDeployment's own handler: CDK's singleton function, a child of the stack, run only at
        # deploy time to copy web/ from the CDK asset bucket into the site bucket and invalidate the CDN.
        stack = Stack.of(self)
        for child in stack.node.children:
            if not child.node.id.startswith("Custom::CDKBucketDeployment"):
                continue
            acknowledge(child, "L1", "CDK's BucketDeployment handler: CDK pins its runtime with the construct "
                                     "library version; it runs only during a deploy.")
            acknowledge(child,
                        "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                        "CDK's BucketDeployment handler logs with the AWS-managed basic execution policy.")
            for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"):
                acknowledge(child, f"IAM5[Action::{action}]",
                            "CDK's grants to the BucketDeployment handler: read the CDK asset bucket, write and "
                            "prune (delete) the site bucket's objects; no other bucket.")
            acknowledge(child, f"IAM5[Resource::{_arn_ref(self.bucket)}/*]",
                        "The site bucket's objects: the deploy replaces web/'s files by name.")
            acknowledge(child, "IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
                               "<AWS::Region>/*]",
                        "The CDK bootstrap asset bucket, where the zipped web/ is staged; read only.")
            acknowledge(child, "IAM5[Resource::*]",
                        "cloudfront:CreateInvalidation / GetInvalidation as CDK grants them for the deploy's "
                        "invalidation of /*.")

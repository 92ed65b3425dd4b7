"""The HTTP API for the functions with http_routes, behind a Cognito user pool."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from shangjia.topology import Topology

from .settings import Settings, retention

# The operations roles of the brief; a user's groups arrive in the JWT claim "cognito:groups".
# A user without a group but with custom:merchant_id is a merchant, scoped to that merchant.
# (Proposed for the topology: a ``roles`` tuple, so the API and the local cloud share it.)
ROLES = {
    "editor": "product editor: uploads, fixes rows, edits listings in their merchant scope",
    "reviewer": "reviewer: pre-review and final review decisions",
    "ops": "ops support: redrive, failure reports, every merchant's batches",
}

# Every access-log line: enough to follow one request across the API and the function's logs.
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status",'
    '"sub":"$context.authorizer.claims.sub","latency":"$context.responseLatency",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


def parse_route(route: str) -> tuple[apigw.HttpMethod, str]:
    """ "ANY /api/{proxy+}" -> (HttpMethod.ANY, "/api/{proxy+}")."""
    method, _, path = route.partition(" ")
    if not path.startswith("/"):
        raise ValueError(f"route {route!r} must be '<METHOD> /path'")
    return apigw.HttpMethod[method.upper()], path


class Api(Construct):
    def __init__(self, scope: Construct, id: str, *, topology: Topology, settings: Settings,
                 functions: dict[str, lambda_.Function]) -> None:
        super().__init__(scope, id)
        self.user_pool = cognito.UserPool(
            self, "Users",
            self_sign_up_enabled=False,                    # staff accounts are created by ops
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True),
            mfa=cognito.Mfa.REQUIRED,                     # staff can approve and publish products
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Set by ops when inviting a merchant user; immutable, so nobody can re-scope themselves.
            custom_attributes={"merchant_id": cognito.StringAttribute(min_len=1, max_len=64, mutable=False)},
            removal_policy=RemovalPolicy.RETAIN,
        )
        for role, description in ROLES.items():
            cognito.CfnUserPoolGroup(self, f"Group{role.capitalize()}", user_pool_id=self.user_pool.user_pool_id,
                                     group_name=role, description=description)
        self.client = self.user_pool.add_client(
            "Dashboard",
            # SRP for the dashboard; ADMIN_USER_PASSWORD needs IAM credentials (ops' CLI, smoke tests).
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            generate_secret=False,                          # a browser app cannot keep a secret
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(1),
            prevent_user_existence_errors=True,
            # Users may edit their name only; email and merchant scope are managed by ops.
            write_attributes=cognito.ClientAttributes().with_standard_attributes(fullname=True),
            read_attributes=cognito.ClientAttributes().with_standard_attributes(email=True, fullname=True)
            .with_custom_attributes("merchant_id"),
        )
        authorizer = authorizers.HttpUserPoolAuthorizer("Cognito", self.user_pool, user_pool_clients=[self.client])

        self.http_api = apigw.HttpApi(self, "Http", description="Shangjia ops API",
                                      create_default_stage=True)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=retention(settings.log_retention_days),
                                         removal_policy=RemovalPolicy.DESTROY)
        stage = self.http_api.default_stage.node.default_child
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn, format=ACCESS_LOG_FORMAT)
        # Protect the functions' reserved concurrency from a runaway client.
        stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_burst_limit=200, throttling_rate_limit=100)

        self.public_routes: list[apigw.HttpRoute] = []
        for fn in topology.functions:
            if not fn.http_routes:
                continue
            if fn.http_auth not in ("jwt", "signature"):
                raise ValueError(f"function {fn.key}: http_auth {fn.http_auth!r} is 'jwt' or 'signature'")
            integration = integrations.HttpLambdaIntegration(f"{fn.key}-integration", functions[fn.key])
            for route in fn.http_routes:
                method, path = parse_route(route)
                # The sales platforms' pushes carry no JWT: the function verifies each one's signature
                # (and refuses a replay by its message id) before anything is applied.
                routes = self.http_api.add_routes(
                    path=path, methods=[method], integration=integration,
                    authorizer=authorizer if fn.http_auth == "jwt" else apigw.HttpNoneAuthorizer())
                if fn.http_auth == "signature":
                    self.public_routes.extend(routes)

    @property
    def url(self) -> str:
        return self.http_api.api_endpoint

"""The HTTP API for the functions with http_routes, and the Cognito user pool (topology.UserPool)
whose ID tokens its JWT authorizer checks on every ``jwt`` route."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from shangjia.topology import HTTP_AUTH, Topology, UserPool, function_environment

from .settings import Settings, retention

# Every access-log line: enough to follow one request across the API and the function's logs.
# The groups of topology.UserPool; a user's groups arrive in the ID token's "cognito:groups".
# A user without a group but with custom:merchant_id is a merchant, scoped to that merchant.
GROUP_DESCRIPTIONS = {
    "editor": "product editor: fixes and resubmits the products of the merchants assigned to them",
    "reviewer": "reviewer: pre-review and final review decisions",
    "ops": "ops support: every merchant, reassignment, escalations, DLQ redrive, settings",
}

ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status",'
    '"sub":"$context.authorizer.claims.sub","latency":"$context.responseLatency",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


def camel_case(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


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
        pool = topology.user_pool or UserPool()
        self.user_pool = cognito.UserPool(
            self, "Users",
            self_sign_up_enabled=False,                    # staff and merchant accounts are created by ops
            sign_in_aliases=cognito.SignInAliases(username=True),   # `shangjia users add NAME`
            password_policy=cognito.PasswordPolicy(min_length=pool.password_min_length, require_digits=True,
                                                   require_lowercase=True, require_uppercase=True,
                                                   require_symbols=True),
            # Sign-in is USER_PASSWORD_AUTH through the auth function, which answers tokens or 401; an
            # MFA challenge has no step there yet (nag.py acknowledges COG2 with this reason).
            mfa=cognito.Mfa.OFF,
            account_recovery=cognito.AccountRecovery.NONE,  # ops resets passwords (shangjia users add)
            # Set by ops when creating a merchant user; immutable, so nobody can re-scope themselves.
            custom_attributes={name: cognito.StringAttribute(min_len=1, max_len=64, mutable=mutable)
                               for name, mutable in pool.custom_attributes},
            removal_policy=RemovalPolicy.RETAIN,
        )
        for group in pool.groups:
            cognito.CfnUserPoolGroup(self, f"Group{group.capitalize()}", user_pool_id=self.user_pool.user_pool_id,
                                     group_name=group, description=GROUP_DESCRIPTIONS.get(group, group))
        flows = set(pool.auth_flows)
        self.client = self.user_pool.add_client(
            camel_case(pool.client),
            # USER_PASSWORD_AUTH (the auth function) and refresh (always on in CDK), nothing else
            auth_flows=cognito.AuthFlow(user_password="ALLOW_USER_PASSWORD_AUTH" in flows),
            generate_secret=False,                          # a browser app cannot keep a secret
            access_token_validity=Duration.minutes(pool.id_token_validity_min),
            id_token_validity=Duration.minutes(pool.id_token_validity_min),
            refresh_token_validity=Duration.days(pool.refresh_token_validity_days),
            prevent_user_existence_errors=True,
            # Users may edit their name only; the merchant scope is managed by ops.
            write_attributes=cognito.ClientAttributes().with_standard_attributes(fullname=True),
            read_attributes=cognito.ClientAttributes().with_standard_attributes(fullname=True)
            .with_custom_attributes(*(name for name, _ in pool.custom_attributes)),
        )
        # API Gateway's JWT authorizer on the pool's ID tokens: signature (the pool's JWKS), exp,
        # iss = the pool's URL, aud = the app client. The local gateway checks the same.
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "Cognito", f"https://{self.user_pool.user_pool_provider_url}",
            jwt_audience=[self.client.user_pool_client_id], identity_source=["$request.header.Authorization"])
        self.pool_key = pool.key

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

        # Routes without the JWT authorizer, by http_auth: "signature" (the function verifies each
        # request's signature) and "none" (sign-in); nag.py acknowledges APIG4 on each with its reason.
        self.public_routes: list[apigw.HttpRoute] = []
        self.unauthenticated_routes: dict[str, list[apigw.HttpRoute]] = {"signature": [], "none": []}
        pool_ids = {"userpool": self.user_pool.user_pool_id, "userpoolclient": self.client.user_pool_client_id}
        for fn in topology.functions:
            if not fn.http_routes:
                continue
            if fn.http_auth not in HTTP_AUTH:
                raise ValueError(f"function {fn.key}: http_auth {fn.http_auth!r} is one of {HTTP_AUTH}")
            for var, (kind, _key) in function_environment(fn, pool.key).items():
                if kind in pool_ids:
                    functions[fn.key].add_environment(var, pool_ids[kind])
            integration = integrations.HttpLambdaIntegration(f"{fn.key}-integration", functions[fn.key])
            for route in fn.http_routes:
                method, path = parse_route(route)
                routes = self.http_api.add_routes(
                    path=path, methods=[method], integration=integration,
                    authorizer=self.authorizer if fn.http_auth == "jwt" else apigw.HttpNoneAuthorizer())
                if fn.http_auth != "jwt":
                    self.public_routes.extend(routes)
                    self.unauthenticated_routes[fn.http_auth].extend(routes)

    @property
    def url(self) -> str:
        return self.http_api.api_endpoint

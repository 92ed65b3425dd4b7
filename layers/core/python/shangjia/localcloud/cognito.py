"""The topology's user pool in moto's Cognito: the pool, its groups and its one app client,
made as CDK makes them (infra/shangjia_infra/api.py). moto's tokens are real RS256 JWTs, signed
with a key that ships in moto's source: trusted by the local gateway only."""

from __future__ import annotations

from dataclasses import dataclass

from shangjia.adapters.cognito import CLIENT_ENV, POOL_ENV
from shangjia.topology import UserPool


@dataclass(frozen=True)
class LocalPool:
    pool_id: str
    client_id: str
    region: str
    endpoint: str

    @property
    def issuer(self) -> str:
        """What moto writes in ``iss``: the AWS URL, as on AWS."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        """Where moto serves the pool's keys (the local endpoint, not the issuer's host)."""
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    def environment(self) -> dict[str, str]:
        return {POOL_ENV: self.pool_id, CLIENT_ENV: self.client_id}


def pool_name(pool: UserPool, prefix: str, suffix: str) -> str:
    return f"{prefix}-{suffix}-{pool.key}"


def provision_pool(session, pool: UserPool, *, endpoint: str, region: str, prefix: str = "shangjia",
                   suffix: str = "local") -> LocalPool:
    idp = session.client("cognito-idp", endpoint_url=endpoint)
    pool_id = idp.create_user_pool(
        PoolName=pool_name(pool, prefix, suffix),
        Policies={"PasswordPolicy": {"MinimumLength": pool.password_min_length, "RequireUppercase": True,
                                     "RequireLowercase": True, "RequireNumbers": True, "RequireSymbols": True}},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Schema=[{"Name": name, "AttributeDataType": "String", "Mutable": mutable,
                 "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}
                for name, mutable in pool.custom_attributes],
    )["UserPool"]["Id"]
    for group in pool.groups:
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName=pool.client, GenerateSecret=False,
        ExplicitAuthFlows=list(pool.auth_flows),
        IdTokenValidity=pool.id_token_validity_min, AccessTokenValidity=pool.id_token_validity_min,
        RefreshTokenValidity=pool.refresh_token_validity_days,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days"},
    )["UserPoolClient"]["ClientId"]
    return LocalPool(pool_id, client_id, region, endpoint)

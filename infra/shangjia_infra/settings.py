"""Synth-time settings, read from CDK context (``-c key=value`` or cdk.json). No AWS calls."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from constructs import Construct

from shangjia.topology import StateMachine

# The repository root, found from this file (infra/shangjia_infra/settings.py), so the stack's
# asset paths do not depend on where the shangjia package happens to be installed.
REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
STATE_MACHINE_DIR = INFRA_DIR / "statemachines"
FUNCTIONS_DIR = REPO_ROOT / "functions"
CORE_LAYER_DIR = REPO_ROOT / "layers" / "core"
BUILD_LAYER_SCRIPT = REPO_ROOT / "layers" / "build.sh"

# context key -> default
DEPS_LAYER = "shangjia:depsLayer"          # "build" (layers/build.sh, cached) | "placeholder" (tests only)
LOG_LEVEL = "shangjia:logLevel"
LOG_RETENTION_DAYS = "shangjia:logRetentionDays"
ALARM_EMAIL = "shangjia:alarmEmail"
REPORTS_EXPIRE_DAYS = "shangjia:reportsExpireDays"
DROP_NONCURRENT_DAYS = "shangjia:dropNoncurrentDays"
STACK_NAME = "shangjia:stackName"

CONTEXT_DEFAULTS: dict[str, object] = {
    DEPS_LAYER: "build",
    LOG_LEVEL: "INFO",
    LOG_RETENTION_DAYS: 30,
    ALARM_EMAIL: "",
    REPORTS_EXPIRE_DAYS: 90,
    DROP_NONCURRENT_DAYS: 30,
    STACK_NAME: "Shangjia",
}


@dataclass(frozen=True)
class Settings:
    deps_layer: str
    log_level: str
    log_retention_days: int
    alarm_email: str
    reports_expire_days: int
    drop_noncurrent_days: int
    stack_name: str

    @classmethod
    def from_context(cls, scope: Construct) -> Settings:
        def get(key: str) -> object:
            value = scope.node.try_get_context(key)
            return CONTEXT_DEFAULTS[key] if value is None else value

        deps = str(get(DEPS_LAYER))
        if deps not in ("build", "placeholder"):
            raise ValueError(f"context {DEPS_LAYER} must be 'build' or 'placeholder', not {deps!r}")
        return cls(
            deps_layer=deps,
            log_level=str(get(LOG_LEVEL)).upper(),
            log_retention_days=int(get(LOG_RETENTION_DAYS)),
            alarm_email=str(get(ALARM_EMAIL) or ""),
            reports_expire_days=int(get(REPORTS_EXPIRE_DAYS)),
            drop_noncurrent_days=int(get(DROP_NONCURRENT_DAYS)),
            stack_name=str(get(STACK_NAME)),
        )


def definition_path(sm: StateMachine) -> Path:
    """Where a state machine's definition file lives (infra/statemachines/<definition_file>)."""
    return STATE_MACHINE_DIR / sm.definition_file


def asset_excludes() -> list[str]:
    """What never goes into a Lambda asset."""
    return ["**/__pycache__", "**/*.pyc", "**/*.egg-info", "**/.pytest_cache", "**/tests"]


def relative(path: Path) -> str:
    """A path as the user sees it from the repo root (absolute if it lies elsewhere)."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def retention(days: int):
    """CloudWatch Logs only accepts certain retention periods; map days to the CDK enum."""
    from aws_cdk.aws_logs import RetentionDays as R

    table = {1: R.ONE_DAY, 3: R.THREE_DAYS, 5: R.FIVE_DAYS, 7: R.ONE_WEEK, 14: R.TWO_WEEKS,
             30: R.ONE_MONTH, 60: R.TWO_MONTHS, 90: R.THREE_MONTHS, 120: R.FOUR_MONTHS,
             150: R.FIVE_MONTHS, 180: R.SIX_MONTHS, 365: R.ONE_YEAR, 400: R.THIRTEEN_MONTHS,
             545: R.EIGHTEEN_MONTHS, 731: R.TWO_YEARS, 1827: R.FIVE_YEARS, 3653: R.TEN_YEARS}
    if days not in table:
        raise ValueError(f"log retention must be one of {sorted(table)} days, not {days}")
    return table[days]


def camel(key: str) -> str:
    """A topology key as a construct id fragment: "publish_wechat" -> "PublishWechat"."""
    return "".join(part.capitalize() for part in key.split("_"))

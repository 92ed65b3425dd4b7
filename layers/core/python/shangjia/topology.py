"""The one description of the deployed topology.

The CDK stack (``infra/``) and the local cloud (``shangjia.localcloud``) are both built from
this module, and ``tests/infra`` holds the synthesized template to it. Change the system's
shape here, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# what AWS accepts for an ESM's MaximumConcurrency (defined with the capacity model; re-exported)
from shangjia.capacity import ESM_MAX_CONCURRENCY, ESM_MIN_CONCURRENCY

REPO_ROOT = Path(__file__).resolve().parents[4]
STATE_MACHINE_DIR = REPO_ROOT / "infra" / "statemachines"


@dataclass(frozen=True)
class Bucket:
    key: str                    # logical name, also the env var suffix
    versioned: bool = False
    purpose: str = ""


@dataclass(frozen=True)
class Queue:
    key: str
    consumer: str | None        # function key that consumes it (None: a task-token or external queue)
    max_receive_count: int = 5
    fifo: bool = False
    purpose: str = ""

    @property
    def dlq_key(self) -> str:
        return f"{self.key}_dlq"


@dataclass(frozen=True)
class SqsTrigger:
    queue: str
    batch_size: int
    batching_window_s: int = 0
    # The ESM's maximum concurrency (ScalingConfig.MaximumConcurrency, 2..1000 on AWS): every trigger
    # has one, and a reserved function's triggers together stay within its reservation, so the
    # pollers never drive more invocations than may run (a throttled delivery still counts toward
    # maxReceiveCount: messages would reach the DLQ without ever running). See concurrency_problems.
    # Derived, not declared: TOPOLOGY's come from the capacity model (``sized``, below).
    max_concurrency: int | None = None


@dataclass(frozen=True)
class Grant:
    resource: str               # "bucket:drop", "queue:validate", "table:state", "statemachine:review"
    # "read", "write" (put, no delete), "readwrite" (read + put, no delete), "delete", "send", "start",
    # "task_response", or "actions": exactly the item-level ``actions`` named (a table: "GetItem", ...)
    access: str
    actions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.access == "actions") != bool(self.actions):
            raise ValueError(f"grant on {self.resource}: 'actions' access names its actions, and only it does")


@dataclass(frozen=True)
class Function:
    key: str
    handler: str                # module path below functions/, e.g. "ingest.handler.lambda_handler"
    memory_mb: int = 512
    timeout_s: int = 30
    # A scheduled function declares its own (1: one run at a time); a queue-fed one's is derived from
    # the capacity model (``sized``, below); the others draw on the account's unreserved pool.
    reserved_concurrency: int | None = None
    triggers: tuple[SqsTrigger, ...] = ()
    grants: tuple[Grant, ...] = ()
    http_routes: tuple[str, ...] = ()   # "ANY /api/{proxy+}"
    # who may call the routes: "jwt" (the Cognito authorizer: staff and merchants), "signature"
    # (the sales platforms' pushes: no JWT, the function verifies each request's signature) or
    # "none" (public: sign-in). See HTTP_AUTH.
    http_auth: str = "jwt"
    schedule: str | None = None         # EventBridge schedule expression, e.g. "rate(1 minute)"
    purpose: str = ""


@dataclass(frozen=True)
class StateMachine:
    key: str
    definition_file: str        # below infra/statemachines/
    type: str = "STANDARD"
    # ${Placeholder} in the definition -> ("function", key) | ("queue", key) | ("table", key)
    substitutions: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return STATE_MACHINE_DIR / self.definition_file


@dataclass(frozen=True)
class Topic:
    """An SNS topic. Subscribers (an e-mail, a merchant's webhook) filter on message attributes."""
    key: str
    purpose: str = ""


@dataclass(frozen=True)
class Gsi:
    """A global secondary index. ``projection``: "ALL", "KEYS_ONLY", or a tuple of the non-key
    attributes an INCLUDE index carries (the table's and the index's keys always come along)."""
    name: str
    partition_key: str
    sort_key: str
    projection: str | tuple[str, ...] = "ALL"

    @property
    def projection_type(self) -> str:
        return self.projection if isinstance(self.projection, str) else "INCLUDE"

    @property
    def non_key_attributes(self) -> tuple[str, ...]:
        return () if isinstance(self.projection, str) else tuple(self.projection)


@dataclass(frozen=True)
class Table:
    key: str
    partition_key: str = "pk"
    sort_key: str = "sk"
    # (index name, pk attr, sk attr[, projection]); without a projection the index projects ALL
    gsis: tuple[tuple, ...] = ()
    ttl_attribute: str | None = None
    # Derived, not declared (``sized``): the write warm throughput (WRU/s) the design peak needs
    # above the default, per target: "table" (the table itself) or an index's name.
    warm_writes: tuple[tuple[str, int], ...] = ()

    @property
    def indexes(self) -> tuple[Gsi, ...]:
        return tuple(Gsi(*g) for g in self.gsis)


@dataclass(frozen=True)
class UserPool:
    """The people who sign in (Cognito): staff in groups, merchants by an immutable attribute.
    A user in no group but with ``custom:merchant_id`` is a merchant scoped to that merchant."""
    key: str = "users"
    groups: tuple[str, ...] = ("editor", "reviewer", "ops")
    # custom attributes: name -> mutable? (``custom:<name>`` in the tokens)
    custom_attributes: tuple[tuple[str, bool], ...] = (("merchant_id", False),)
    # the one app client: no secret (a browser signs in), USER_PASSWORD_AUTH and refresh
    client: str = "web"
    auth_flows: tuple[str, ...] = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
    id_token_validity_min: int = 60
    refresh_token_validity_days: int = 1
    password_min_length: int = 12

    @property
    def roles(self) -> tuple[str, ...]:
        return ("merchant", *self.groups)


# How a route is guarded: "jwt" (API Gateway's JWT authorizer on the user pool's ID tokens),
# "signature" (no authorizer: the function verifies each request's signature), "none" (public).
HTTP_AUTH = ("jwt", "signature", "none")


@dataclass(frozen=True)
class Topology:
    buckets: tuple[Bucket, ...]
    queues: tuple[Queue, ...]
    tables: tuple[Table, ...]
    functions: tuple[Function, ...]
    state_machines: tuple[StateMachine, ...]
    # S3 ObjectCreated notifications: bucket key -> queue key
    notifications: tuple[tuple[str, str], ...]
    user_pool: UserPool | None = None
    topics: tuple[Topic, ...] = ()

    def function(self, key: str) -> Function:
        return next(f for f in self.functions if f.key == key)

    def queue(self, key: str) -> Queue:
        return next(q for q in self.queues if q.key == key)

    def consumer_timeout(self, queue_key: str) -> int:
        q = self.queue(queue_key)
        return self.function(q.consumer).timeout_s if q.consumer else 30

    def visibility_timeout(self, queue_key: str) -> int:
        """AWS's advice for Lambda consumers: at least six times the function's timeout."""
        return 6 * self.consumer_timeout(queue_key)


CHANNELS = ("own_shop", "wechat", "douyin")
# What gsi2 (STATUS#<status> / time, ASSIGNEE#<reviewer>) carries besides keys: the publish
# scheduler reads these from the index without fetching the (large) product item.
GSI2_ATTRIBUTES = ("status", "merchant_id", "spu_code", "batch_id")

_state_rw = Grant("table:state", "readwrite")
# The channel shops' credentials: one secret per (merchant, channel), named
# shangjia/shops/<merchant_id>/<channel> (shangjia.channels.credentials): read by name pattern.
SHOP_SECRETS = "shangjia/shops/*"
_shop_secrets = Grant(f"secret:{SHOP_SECRETS}", "read")
# ERP clients' webhook secrets: shangjia/erp/<client> (shangjia.inbound.verify)
ERP_SECRETS = "shangjia/erp/*"
_start_review = (Grant("statemachine:review_auto", "start"), Grant("statemachine:review_manual", "start"))
# Functions that may settle a product, and so its batch: the batch's notice goes from there.
_notify = Grant("topic:notices", "publish")

# As declared: queue-fed functions without concurrency numbers; TOPOLOGY (below) is this, sized.
DECLARED = Topology(
    buckets=(
        Bucket("drop", versioned=True, purpose="merchant uploads: sheets, images, videos (raw, versioned)"),
        Bucket("media", purpose="processed renditions (content-addressed WebP) and detail previews"),
        Bucket("reports", purpose="merchant-facing error reports and templates"),
    ),
    # named as it is built: the api's DLQ grants name every queue (walrus: one list, no copy)
    queues=(_QUEUES := (
        Queue("intake", "ingest", max_receive_count=3, purpose="S3 ObjectCreated events of the drop bucket"),
        Queue("validate", "validate", purpose="one message per product (its SKU rows)"),
        Queue("validate_priority", "validate", purpose="priority lane: apparel/shoes/bags, home, digital"),
        Queue("media", "media", max_receive_count=5, purpose="one message per image to render"),
        Queue("review_tasks", "review_tasks", purpose="manual review task tokens from the state machine"),
        Queue("reports", "report", max_receive_count=3,
              purpose="batches whose merchant report is too big to write inline"),
        *(Queue(f"publish_{c}", "publish", max_receive_count=8, purpose=f"listings to publish on {c}")
          for c in CHANNELS),
        Queue("stock_sync", "stock_sync", max_receive_count=5,
              purpose="products whose stock levels changed: one coalesced message per product (stock/sync.py)"),
    )),
    tables=(
        # Index entries are written on every change of what they project, so they carry as little
        # as the readers need (docs/cost-model.md): gsi1 lists keys (batches, a batch's products
        # and refusals, tasks, listings) and readers fetch the items by key (Store.get_many);
        # gsi2's keys change with every status move anyway, so the few attributes the publish
        # scheduler needs ride along at no extra write.
        Table("state", gsis=(("gsi1", "gsi1pk", "gsi1sk", "KEYS_ONLY"),
                             ("gsi2", "gsi2pk", "gsi2sk", GSI2_ATTRIBUTES)), ttl_attribute="ttl"),
    ),
    functions=(
        Function("ingest", "ingest.handler.lambda_handler", memory_mb=1024, timeout_s=300,
                 # ten records a batch: most are the images' notifications, answered without a
                 # request; one upload is worked on per invocation (pipeline/ingest.intake_record).
                 # Images arrive one by one: a second's window fills the batch (a sheet starts <= 1 s later)
                 triggers=(SqsTrigger("intake", batch_size=10, batching_window_s=1),),
                 grants=(Grant("bucket:drop", "read"), Grant("bucket:drop", "write"), Grant("bucket:reports", "write"),
                         _state_rw, Grant("queue:validate", "send"), Grant("queue:validate_priority", "send"),
                         Grant("queue:reports", "send"), _notify,
                         # a sheet longer than one lifetime queues its own continuation
                         Grant("queue:intake", "send")),
                 purpose="stream a sheet into one message per product"),
        Function("validate", "validate.handler.lambda_handler", memory_mb=512, timeout_s=30,
                 # the priority lane first: it takes the odd unit of the split reservation
                 triggers=(SqsTrigger("validate_priority", batch_size=10, batching_window_s=0),
                           SqsTrigger("validate", batch_size=10, batching_window_s=1)),
                 grants=(_state_rw, Grant("queue:media", "send"), *_start_review,
                         Grant("bucket:drop", "read"), Grant("bucket:reports", "write"), Grant("queue:reports", "send"),
                         _notify, Grant("queue:stock_sync", "send")),
                 purpose="apply the product spec; claim SKU codes; fan out images; write a small batch's report"),
        # A 100k-row sheet's report is ~23 s of CPU on a full core (docs/merchant-answers.md): more than the
        # validate function's 30 s at 512 MB. Big batches' reports get a function sized for them.
        Function("report", "report.handler.lambda_handler", memory_mb=1769, timeout_s=300,
                 triggers=(SqsTrigger("reports", batch_size=1),),
                 grants=(_state_rw, Grant("bucket:drop", "read"), Grant("bucket:reports", "write"), _notify),
                 purpose="write a big batch's merchant report (workbook and JSON twin), exactly once"),
        Function("media", "media.handler.lambda_handler", memory_mb=1769, timeout_s=60,
                 triggers=(SqsTrigger("media", batch_size=5, batching_window_s=1),),
                 # reads: a rendition's HeadObject before writing it (content-addressed); never deletes
                 grants=(Grant("bucket:drop", "read"), Grant("bucket:media", "readwrite"), _state_rw,
                         *_start_review, _notify),
                 purpose="render 800x800 WebP and checks; start review when the last image is done"),
        Function("review_step", "review_step.handler.lambda_handler", memory_mb=512, timeout_s=30,
                 # no media grant: its checks render the detail previews without storing them (a
                 # reviewer's task stores them: review_tasks)
                 grants=(_state_rw, Grant("statemachine:review_manual", "start"),
                         *(Grant(f"queue:publish_{c}", "send") for c in CHANNELS), _notify),
                 purpose="the review workflows' Lambda tasks"),
        Function("review_tasks", "review_tasks.handler.lambda_handler", memory_mb=512, timeout_s=30,
                 triggers=(SqsTrigger("review_tasks", batch_size=10),),
                 grants=(_state_rw, Grant("bucket:media", "write"),      # the final task's previews (never reads)
                         Grant("statemachine:review_manual", "task_response")),
                 purpose="run a stage's automated checks, then record the manual review task (or reject)"),
        Function("publish_scheduler", "publish_scheduler.handler.lambda_handler", memory_mb=256, timeout_s=60,
                 reserved_concurrency=1, schedule="rate(1 minute)",
                 grants=(_state_rw, *(Grant(f"queue:publish_{c}", "send") for c in CHANNELS)),
                 purpose="hand products whose publishing window has opened to the channel queues"),
        Function("publish", "publish.handler.lambda_handler", memory_mb=256, timeout_s=60,
                 # three channel queues share the reservation (split evenly by the sizing)
                 triggers=tuple(SqsTrigger(f"publish_{c}", batch_size=10, batching_window_s=1) for c in CHANNELS),
                 grants=(_state_rw, _shop_secrets, *(Grant(f"queue:publish_{c}", "send") for c in CHANNELS), _notify),
                 purpose="push listings to a sales channel (quota-aware, idempotent); re-send delayed on "
                         "quota waits and transient errors; record them"),
        Function("channel_callback", "channel_callback.handler.lambda_handler", memory_mb=256, timeout_s=10,
                 grants=(_state_rw, _shop_secrets, _notify, Grant("queue:stock_sync", "send")),
                 http_routes=("POST /callbacks/wechat", "POST /callbacks/douyin"), http_auth="signature",
                 purpose="the platforms' audit verdicts and order events: signature verified, idempotent on "
                         "the message or order id; orders reserve, commit and release stock"),
        Function("stock_sync", "stock_sync.handler.lambda_handler", memory_mb=256, timeout_s=60,
                 triggers=(SqsTrigger("stock_sync", batch_size=10, batching_window_s=1),),
                 grants=(_state_rw, _shop_secrets),
                 purpose="send a product's current stock levels to each live listing (stock APIs, no audit)"),
        Function("stock_reconcile", "stock_reconcile.handler.lambda_handler", memory_mb=256, timeout_s=300,
                 reserved_concurrency=1, schedule="rate(15 minutes)",
                 grants=(_state_rw, _shop_secrets),
                 purpose="compare each live listing's stock on its channel with the ledger and repair drift"),
        # The ERPs' signed feeds (shangjia.inbound): products and big-feed uploads go to the drop
        # bucket (ingest takes them like any upload); stock levels to the ledger (shangjia.stock),
        # whose changes go out through the stock-sync queue.
        Function("erp", "erp.handler.lambda_handler", memory_mb=512, timeout_s=29,
                 grants=(_state_rw, Grant("bucket:drop", "write"), Grant(f"secret:{ERP_SECRETS}", "read"),
                         Grant("queue:stock_sync", "send")),
                 http_routes=("POST /erp/v1/products", "POST /erp/v1/stock", "POST /erp/v1/uploads"),
                 http_auth="signature",
                 purpose="ERP feeds: signature verified over the raw bytes, one answer per event id"),
        Function("listing_poller", "listing_poller.handler.lambda_handler", memory_mb=256, timeout_s=120,
                 reserved_concurrency=1, schedule="rate(5 minutes)",
                 grants=(_state_rw, _shop_secrets, _notify),
                 purpose="look up listings whose audit verdict has not arrived by callback; settle products"),
        # Mondays 01:00 UTC: the week that just ended. Reads the week's failure index (docs/failures.md),
        # never scans; rewrites the same two keys when run again for a week.
        Function("failure_report", "failure_report.handler.lambda_handler", memory_mb=512, timeout_s=300,
                 reserved_concurrency=1, schedule="cron(0 1 ? * MON *)",
                 grants=(Grant("table:state", "actions", actions=("Query", "BatchGetItem")),
                         Grant("bucket:reports", "write")),
                 purpose="the weekly failure report: failures by cause, category, merchant and channel (JSON + xlsx)"),
        # Public: trades a username and password (or a refresh token) for the pool's tokens. No
        # grant: InitiateAuth is an unauthenticated Cognito call made with the app client's id.
        Function("auth", "auth.handler.lambda_handler", memory_mb=256, timeout_s=10,
                 http_routes=("POST /auth/login", "POST /auth/refresh"), http_auth="none",
                 purpose="sign-in: username and password, or a refresh token, to Cognito tokens"),
        Function("api", "api.handler.lambda_handler", memory_mb=512, timeout_s=29,
                 # exactly the Store calls the routes make: get, get_many, query (task lists, a batch's
                 # products, the board's status lists), update (claim, heartbeat, decision, settings,
                 # editor assignments), put (the decision's audit, a resubmission's batch, banned terms)
                 grants=(Grant("table:state", "actions",
                               actions=("GetItem", "BatchGetItem", "Query", "UpdateItem", "PutItem")),
                         Grant("statemachine:review_manual", "task_response"),
                         # presigned links work as far as the signer's role may: the upload POST puts
                         # into drop (never reads it); report, template and weekly-report GETs, the
                         # weekly list and the template's first write on reports; preview GETs on media
                         Grant("bucket:drop", "write"), Grant("bucket:reports", "readwrite"),
                         Grant("bucket:media", "read"),
                         # resubmit: the product's revision back to validation
                         Grant("queue:validate", "send"), Grant("queue:validate_priority", "send"),
                         # ops: DLQ depth and redrive (receive + delete on the DLQ, send to its queue)
                         *(Grant(f"queue:{q.key}_dlq", "read") for q in _QUEUES),
                         *(Grant(f"queue:{q.key}", "send") for q in _QUEUES
                           if q.key not in ("validate", "validate_priority"))),
                 http_routes=("ANY /api/{proxy+}",),
                 purpose="the API: merchants' uploads, batches, reports; staff's board, review, ops tools"),
    ),
    state_machines=(
        # No human waits: Express, billed per request and duration, not per state transition.
        StateMachine("review_auto", "review_auto.asl.json", type="EXPRESS",
                     substitutions={"ReviewStepFunctionArn": ("function", "review_step")}),
        # A reviewer's task token waits (hours): Standard, with as few transitions as the stages need.
        StateMachine("review_manual", "review_manual.asl.json", type="STANDARD",
                     substitutions={"ReviewStepFunctionArn": ("function", "review_step"),
                                    "ReviewTasksQueueUrl": ("queue", "review_tasks")}),
    ),
    notifications=(("drop", "intake"),),
    user_pool=UserPool(),
    topics=(Topic("notices", purpose="a merchant's batch settled or was refused: counts and the report's link "
                                     "(message attributes merchant_id, kind)"),),
)


def sizing_shapes(topology: Topology) -> list:
    """What the capacity model sizes, per function: its SQS triggers' queues, whether it is
    scheduled, and a scheduled function's declared reservation."""
    from shangjia.capacity import Shape

    return [Shape(f.key, tuple(t.queue for t in f.triggers), scheduled=bool(f.schedule),
                  fixed=f.reserved_concurrency if f.schedule else None) for f in topology.functions]


def sized(topology: Topology, sizing) -> Topology:
    """``topology`` with each function's reserved concurrency and its triggers' maximum concurrency
    as ``sizing`` (``shangjia.capacity.sizing``) derived them, and the state table's write warm
    throughput where the peak needs more than a new table takes at once. The local cloud bounds them again by
    what the machine runs (``LocalCloud(max_concurrency=...)``)."""
    from dataclasses import replace

    def one(fn: Function) -> Function:
        size = sizing.functions.get(fn.key)
        if size is None or size.kind == "scheduled":
            return fn
        caps = dict(size.esm)
        return replace(fn, reserved_concurrency=size.reserved,
                       triggers=tuple(replace(t, max_concurrency=caps.get(t.queue)) for t in fn.triggers))

    # the measured partitions are the state table's (the meter's census of its keys)
    warm = tuple(sorted(getattr(sizing, "warm_writes", {}).items()))
    tables = tuple(replace(t, warm_writes=warm) if t.key == "state" else t for t in topology.tables)
    return replace(topology, functions=tuple(one(f) for f in topology.functions), tables=tables)


def design_sizing(topology: Topology = DECLARED):
    """The capacity model's answer for the design peak and the committed profile
    (``capacity.DESIGN_PEAK``, ``capacity.PROFILE_PATH``): what the stack deploys."""
    from shangjia import capacity

    return capacity.sizing(capacity.load_profile(), sizing_shapes(topology), capacity.DESIGN_PEAK)


# What the CDK stack deploys and the local cloud runs (within the machine's own bound).
TOPOLOGY = sized(DECLARED, design_sizing())


def concurrency_problems(topology: Topology) -> list[str]:
    """What is wrong with the SQS triggers' concurrency, one line per function (empty: nothing).
    The CDK stack refuses a topology with problems; the local cloud's pollers honour the caps."""
    problems = []
    for fn in topology.functions:
        if not fn.triggers:
            continue
        caps = [t.max_concurrency for t in fn.triggers]
        missing = [t.queue for t in fn.triggers if t.max_concurrency is None]
        low = [t.queue for t in fn.triggers
               if t.max_concurrency is not None and not ESM_MIN_CONCURRENCY <= t.max_concurrency <= ESM_MAX_CONCURRENCY]
        if missing:
            problems.append(f"{fn.key}: trigger(s) {', '.join(missing)} without max_concurrency (throttled SQS "
                            f"deliveries count toward maxReceiveCount)")
        elif low:
            problems.append(f"{fn.key}: trigger(s) {', '.join(low)} with max_concurrency below 2 or above 1000 "
                            f"(what AWS accepts)")
        elif fn.reserved_concurrency is not None and sum(caps) > fn.reserved_concurrency:
            problems.append(f"{fn.key}: triggers' max_concurrency {sum(caps)} exceeds reserved concurrency "
                            f"{fn.reserved_concurrency}")
    return problems


def env_name(kind: str, key: str) -> str:
    """The environment variable that carries a resource's name/url/arn into a function."""
    return f"SHANGJIA_{kind.upper()}_{key.upper()}"


# The user pool's ids, told to the public sign-in function (it calls InitiateAuth with the client
# id: no IAM grant, Cognito's sign-in is unauthenticated). The local cloud exports the same names.
USER_POOL_ID_ENV = "SHANGJIA_USER_POOL_ID"
USER_POOL_CLIENT_ENV = "SHANGJIA_USER_POOL_CLIENT_ID"


def function_environment(fn: Function, user_pool: str = "users") -> dict[str, tuple[str, str]]:
    """Which resources a function is told about: env var -> (kind, key). Derived from its grants,
    and, for a public (``http_auth="none"``) route's function, the user pool and its app client."""
    env: dict[str, tuple[str, str]] = {}
    for g in fn.grants:
        kind, key = g.resource.split(":", 1)
        if kind == "secret":
            continue        # a name pattern: the code derives each secret's name (no variable)
        env[env_name(kind, key)] = (kind, key)
    if fn.http_routes and fn.http_auth == "none":
        env[USER_POOL_ID_ENV] = ("userpool", user_pool)
        env[USER_POOL_CLIENT_ENV] = ("userpoolclient", user_pool)
    return env

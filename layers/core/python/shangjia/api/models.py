"""The API's request and response models (pydantic): Powertools validates requests against them,
serializes answers through them, and generates the OpenAPI document from them. The shapes are
``docs/contracts.md``'s "The API"; ``docs/api.md`` is the reference."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MODES = Literal["skip_invalid", "stop_on_error_rate", "check_only"]


class _Req(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------------------------

class UploadRequest(_Req):
    filename: str = Field(min_length=1, max_length=200, description="the file's name (no folders)")
    mode: MODES | None = Field(None, description="batch policy; default: the merchant's (skip_invalid)")
    merchant_id: str | None = Field(None, description="for editors and ops: the merchant to upload for")
    upload_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$",
                                  description="put this file beside an earlier one of the same upload "
                                              "(a sheet and its zip of images)")


class DecisionRequest(_Req):
    decision: Literal["approve", "reject"]
    reasons: list[str] = Field(default_factory=list, description="reason codes (a rejection needs one, or a note)")
    note: str | None = None


class SettingRequest(_Req):
    value: Any = Field(description="audit_sample_rate: a number 0..1; banned_terms: the list document "
                                   "(the format of data/banned_terms.json)")


class AssignmentRequest(_Req):
    merchants: list[str] = Field(description="the merchant ids the editor works on (replaces the list)")


# --- answers -------------------------------------------------------------------------------------

class ApiError(BaseModel):
    """Every error answer (codes in docs/error-codes.md, area ``api``)."""
    code: str
    message: str
    message_zh: str

class Me(BaseModel):
    id: str
    username: str
    role: Literal["merchant", "editor", "reviewer", "ops"]
    merchant_id: str | None
    merchants: list[str] = Field(description="an editor's assigned merchants; a merchant's own; [] for others")


class UploadTicket(BaseModel):
    url: str
    fields: dict[str, str] = Field(description="form fields to send before the file field ('file')")
    key: str
    expires_in: int
    max_bytes: int
    upload_id: str


class BatchSummary(BaseModel):
    batch_id: str
    merchant_id: str
    source: str = Field(description="sheet | bundle | resubmit ...")
    filename: str | None
    key: str | None
    status: str
    created_at: str | None
    counts: dict[str, int | None] = Field(description="products_total, products_seen, settled, refused, unchanged, skus")
    progress: dict[str, int] = Field(description="products by status")
    settled: bool
    report_ready: bool
    rejection: dict[str, Any] | None = None


class BatchList(BaseModel):
    items: list[BatchSummary]


class Located(BaseModel):
    row: int | None = None
    column: str | None = None
    field: str | None = None
    code: str
    severity: str = "error"
    message: str
    message_zh: str
    hint: str | None = None
    hint_zh: str | None = None
    channel: str | None = None


class ListingState(BaseModel):
    state: str
    reason: str | None = None


class Readiness(BaseModel):
    ready: bool
    findings: list[Located] = Field(default_factory=list)


class ProductRow(BaseModel):
    merchant_id: str
    spu: str
    title: str | None
    category: str | None
    status: str
    errors: list[Located]
    listings: dict[str, ListingState]
    readiness: dict[str, Readiness]


class ProductList(BaseModel):
    items: list[ProductRow]


class Sku(BaseModel):
    sku_code: str
    spec: dict[str, Any] = Field(default_factory=dict)
    price_fen: int | None = None
    market_price_fen: int | None = None
    promo_price_fen: int | None = None
    stock: int | None = None
    row: int | None = None
    cost_price_fen: int | None = Field(None, description="only for ops and the owning merchant (else null)")


class ProductDetail(BaseModel):
    merchant_id: str
    spu: str
    title: str | None
    category: str | None
    brand: str | None
    status: str
    batch_id: str | None
    updated_at: str | None
    skus: list[Sku]
    errors: list[Located]
    warnings: list[Located]
    listings: dict[str, ListingState]
    readiness: dict[str, Readiness]
    cost_visible: bool


class ReportLinks(BaseModel):
    xlsx_url: str | None = Field(description="null when the file was refused before it could be read")
    json_url: str
    expires_in: int


class Link(BaseModel):
    url: str
    expires_in: int


class Resubmitted(BaseModel):
    status: str
    batch_id: str


class ListingItem(BaseModel):
    spu: str
    channel: str
    state: str
    reason: str | None = None
    platform_id: str | None = None
    updated_at: str | None = None


class ListingList(BaseModel):
    items: list[ListingItem]


class Stock(BaseModel):
    merchant_id: str
    sku_code: str
    on_hand: int
    reserved: int
    available: int
    buffers: dict[str, int]
    movements: list[dict[str, Any]]


class Blocker(BaseModel):
    code: str
    message: str
    message_zh: str


class Card(BaseModel):
    kind: Literal["product", "batch"]
    id: str
    merchant_id: str
    spu: str | None = None
    title: str | None = None
    category: str | None = None
    channels: list[str] = Field(default_factory=list)
    owner: str | None = None
    age_s: int
    blocker: Blocker | None = None


class Board(BaseModel):
    columns: dict[str, list[Card]]


class TaskList(BaseModel):
    tasks: list[dict[str, Any]]


class Preview(BaseModel):
    task_id: str
    product: ProductDetail
    findings: list[Located]
    images: list[str]
    mobile_url: str | None
    pc_url: str | None
    expires_in: int


class Claimed(BaseModel):
    task_id: str
    state: str
    assignee: str


class Heartbeat(BaseModel):
    task_id: str
    lease_until: str


class Decided(BaseModel):
    task_id: str
    applied: bool
    decision: dict[str, Any]


class WeekList(BaseModel):
    items: list[str] = Field(description="ISO weeks with a report, newest first (YYYY-Www)")


class DlqDepths(BaseModel):
    depths: dict[str, int] = Field(description="messages in each queue's dead-letter queue, by queue")


class Redriven(BaseModel):
    queue: str
    moved: int


class SettingValue(BaseModel):
    value: Any
    default: Any = None
    about: str = ""


class Settings(BaseModel):
    settings: dict[str, SettingValue]
    banned_terms: dict[str, Any]


class Assignment(BaseModel):
    username: str
    merchants: list[str]


class NoticeList(BaseModel):
    items: list[dict[str, Any]]

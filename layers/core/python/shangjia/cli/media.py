"""``shangjia media FILE... --out DIR [--json]``: the pipeline's media code, offline.

Each FILE (an image, a video, a zip of images, or an https URL) goes through exactly what the
media Lambda runs; renditions are written under DIR at their object keys
(``r/<sha256>/<params>/<name>.webp``). With ``--json`` one JSON object per input is printed per
line: ``ok``, the renditions written, the checks' findings, or the error code and message.
``--product`` treats the files as one product (first = main, the rest = gallery) and adds the
product-level checks (duplicates, gallery count).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("media", help="process images/videos offline: renditions, checks, tags",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("files", nargs="+", metavar="FILE", help="image, video, zip, or https:// URL")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="where renditions are written")
    p.add_argument("--json", action="store_true", help="one JSON object per input, per line")
    p.add_argument("--slot", choices=("main", "gallery", "detail"), default="main",
                   help="the slot every image is checked for (default: main)")
    p.add_argument("--product", action="store_true",
                   help="one product: the first image is the main image, the others gallery")
    p.set_defaults(func=run)


def _inputs(args):
    """(display name, bytes or a FindingError) for each input, zips expanded."""
    from shangjia.errors import FindingError, finding
    from shangjia.media import DEFAULT_LIMITS, extract_zip_images, fetch_url, sniff
    from shangjia.media.formats import VIDEO_FORMATS

    for raw in args.files:
        if raw.startswith(("https://", "http://")):
            try:
                yield raw, fetch_url(raw, max_bytes=DEFAULT_LIMITS.max_bytes, timeout_s=20)
            except FindingError as e:
                yield raw, e
            continue
        path = Path(raw)
        try:
            size = path.stat().st_size
            if size > DEFAULT_LIMITS.max_bytes:
                with path.open("rb") as fh:
                    head = fh.read(4096)
                if sniff(head) in VIDEO_FORMATS:
                    yield raw, path      # large video: probed from the open file, never read whole
                else:
                    yield raw, FindingError(finding("MEDIA_FILE_TOO_LARGE", file=raw, size_mb=round(size / 2**20, 1),
                                                    limit_mb=round(DEFAULT_LIMITS.max_bytes / 2**20, 1)))
                continue
            data = path.read_bytes()
        except OSError as e:
            yield raw, OSError(f"{raw}: {e.strerror or e}")
            continue
        if sniff(data) == "zip":
            try:
                for inner, body in extract_zip_images(data, limits=DEFAULT_LIMITS):
                    yield f"{raw}!{inner}", body
            except FindingError as e:
                yield raw, e
            continue
        yield raw, data


def run(args) -> int:
    from shangjia.errors import FindingError
    from shangjia.media import ImageResult, probe_video, process_image, product_checks, sniff
    from shangjia.media.formats import VIDEO_FORMATS

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    images: list[ImageResult] = []
    all_ok = True
    for i, (name, payload) in enumerate(_inputs(args)):
        if isinstance(payload, FindingError):
            obj = _error_obj(name, payload.finding)
        elif isinstance(payload, OSError):
            obj = {"file": name, "ok": False, "error": {"code": "FILE_NOT_READABLE", "message_en": str(payload),
                                                      "message_zh": f"无法读取文件：{payload}"}}
        elif isinstance(payload, Path) or sniff(payload) in VIDEO_FORMATS:
            if isinstance(payload, Path):
                with payload.open("rb") as fh:
                    v = probe_video(fh, name=name)
            else:
                v = probe_video(payload, name=name)
            obj = {"file": name, **v.to_dict()}
        else:
            slot = ("main" if i == 0 else "gallery") if args.product else args.slot
            r = process_image(payload, name=name, slot=slot)
            images.append(r)
            obj = {"file": name, **r.to_dict()}
            for rend, d in zip(r.renditions, obj["renditions"]):
                target = out / rend.key
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists() or target.stat().st_size != len(rend.data):
                    target.write_bytes(rend.data)
                d["path"] = str(target)
        all_ok &= bool(obj.get("ok"))
        _emit(obj, args.json)

    if args.product:
        findings = product_checks(images)
        obj = {"product": True, "ok": not any(f.is_error for f in findings),
               "findings": [f.to_dict() for f in findings]}
        all_ok &= obj["ok"]
        _emit(obj, args.json)
    return 0 if all_ok else 1


def _error_obj(name: str, f) -> dict:
    return {"file": name, "ok": False, "renditions": [], "findings": [f.to_dict()],
            "error": {"code": f.code, "message_zh": f.message_zh, "message_en": f.message_en}}


def _emit(obj: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
        return
    w = sys.stdout.write
    if obj.get("product"):
        w(f"{'✔' if obj['ok'] else '✘'} product checks\n")
    else:
        head = obj.get("source_format") or obj.get("container") or ""
        size = f" {obj['width']}×{obj['height']}" if obj.get("width") else ""
        extra = f" {obj['duration_s']} s {obj.get('codec') or ''}" if obj.get("kind") == "video" else ""
        w(f"{'✔' if obj['ok'] else '✘'} {obj['file']}  {head}{size}{extra}\n")
        for r in obj.get("renditions", []):
            w(f"    → {r['name']} {r['width']}×{r['height']} {r['bytes'] / 1024:.1f} KB  {r.get('path', r['key'])}\n")
        tags = obj.get("tags") or {}
        if tags.get("colors") or tags.get("background"):
            w(f"    tags: {'、'.join(tags.get('colors', []))}  background={tags.get('background')}"
              f"  orientation={tags.get('orientation')}\n")
    for f in obj.get("findings", []):
        mark = "错误 error" if f["severity"] == "error" else "提示 warning"
        w(f"    [{mark}] {f['code']}: {f['message_zh']} / {f['message_en']}\n")
        if f.get("hint_zh"):
            w(f"        {f['hint_zh']} / {f.get('hint_en', '')}\n")

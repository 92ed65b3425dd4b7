"""Codes raised by image and video processing (owned by the media area)."""

from . import CODES, ErrorCode as E

CODES.declare(
    "media",
    E("MEDIA_UNREADABLE", "error", "无法识别的图片：{reason}", "Unreadable image: {reason}",
      "请上传 JPEG/PNG/WebP 图片", "Upload a JPEG, PNG or WebP image"),
)

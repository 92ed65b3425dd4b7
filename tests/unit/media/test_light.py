"""The media package stays cheap to import (Lambda cold start), and colour names are right."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shangjia.media.colors import name_color


def test_importing_the_package_does_not_load_pillow_or_the_network_stack():
    code = ("import sys, shangjia.media; "
            "print(sorted(m for m in ('PIL', 'pillow_heif', 'http.client', 'ssl', 'boto3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_core_never_imports_boto3():
    code = ("import sys, shangjia.media.image, shangjia.media.fetch, shangjia.media.video, shangjia.media.archive; "
            "print('boto3' in sys.modules or 'botocore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("rgb, name", [
    ((220, 20, 30), "红色"), ((128, 0, 32), "酒红色"), ((255, 182, 193), "粉色"), ((255, 140, 0), "橙色"),
    ((250, 215, 30), "黄色"), ((240, 230, 205), "米色"), ((195, 176, 145), "卡其色"), ((120, 72, 35), "棕色"),
    ((34, 139, 34), "绿色"), ((85, 100, 45), "军绿色"), ((0, 170, 175), "青色"), ((135, 195, 235), "天蓝色"),
    ((30, 90, 210), "蓝色"), ((20, 30, 80), "藏青色"), ((0, 0, 128), "藏青色"), ((120, 50, 170), "紫色"),
    ((10, 10, 10), "黑色"), ((70, 70, 72), "深灰色"), ((128, 128, 128), "灰色"), ((200, 200, 200), "浅灰色"),
    ((252, 252, 250), "白色"),
])
def test_colour_names(rgb, name):
    assert name_color(rgb) == name

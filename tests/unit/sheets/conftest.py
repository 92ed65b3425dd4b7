"""Sheets-area fixtures."""

import pytest


@pytest.fixture
def ctx():
    from shangjia.validation import ValidationContext
    return ValidationContext("m1", shipping_templates=frozenset({"全国包邮", "默认运费模板"}))

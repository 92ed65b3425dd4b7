"""A zip of images and a sheet that names them, dropped through the S3 API, end as published products."""

import io
import random
import zipfile

import pytest

from shangjia.localcloud.demo import make_image
from shangjia.pipeline import views

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]

MERCHANT = "vipzip1"


def _batches(deps):
    return {b["key"]: b for b in views.merchant_batches(deps, MERCHANT)}


def test_images_zipped_beside_the_sheet_are_unpacked_and_the_products_publish(cloud, deps, tmp_path):
    from shangjia.pipeline import views
    from shangjia.pipeline.merchants import put_merchant
    from shangjia.sheets.samples import write_sample_workbook

    put_merchant(deps.store, MERCHANT, name="VIP zip", annual_sales_cny=9_000_000)
    sheet = tmp_path / "sheet.xlsx"
    # The sheet names its images by relative path: 图片/<spu>_<kind>_<i>.jpg
    images = write_sample_workbook(sheet, 3, seed=11, image_names=lambda spu, kind, i: f"图片/{spu}_{kind}_{i}.jpg")
    assert images and all(n.startswith("图片/") for n in images)
    rng = random.Random(11)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in images:
            z.writestr(name, make_image(name, rng, size=900))
        z.writestr("../逃逸.jpg", b"never written")

    s3 = cloud.client("s3")
    drop = cloud.resources.buckets["drop"]
    zip_key, sheet_key = f"{MERCHANT}/秋季 新品/图片 打包.zip", f"{MERCHANT}/秋季 新品/上新.xlsx"
    s3.put_object(Bucket=drop, Key=zip_key, Body=buf.getvalue())
    s3.upload_file(str(sheet), drop, sheet_key)

    def settled() -> bool:
        b = _batches(deps)
        return (b.get(zip_key, {}).get("status") == "unpacked" and sheet_key in b
                and views.batch_summary(deps, b[sheet_key])["settled"])

    assert cloud.wait_until(settled, timeout_s=150)
    b = _batches(deps)
    bundle = b[zip_key]
    assert bundle["files_count"] == len(images) and bundle["refused_count"] == 1
    assert bundle["refused_entries"][0]["finding"]["code"] == "MEDIA_ZIP_UNSAFE_PATH"
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=drop, Prefix=f"{MERCHANT}/").get("Contents", [])}
    assert listed == {zip_key, sheet_key, *(f"{MERCHANT}/秋季 新品/{n}" for n in images)}

    s = views.batch_summary(deps, b[sheet_key], with_products=True)
    assert s["by_status"] == {"published": 3}, s
    # The images written by the unpacking came back through the intake queue and were ignored:
    # the only batches are the zip and the sheet.
    assert set(b) == {zip_key, sheet_key}

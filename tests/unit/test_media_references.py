"""A legacy reference names a path inside the media source, or nothing: never a way out of it."""
from __future__ import annotations

import pytest

from infra.datamove.objects import Buckets, source_path
from infra.datamove.types import Misfit


@pytest.mark.parametrize("reference", [
    "/etc/passwd", "../up.jpg", "a/../../b.jpg", "a//b.jpg", "./a.jpg", "a/./b.jpg", "a/", "",
    "https://elsewhere.test/a.jpg", "a\\b.jpg", "a\nb.jpg", "a\x7fb.jpg",
])
def test_a_reference_that_is_no_path_inside_the_source_is_refused(reference):
    with pytest.raises(Misfit):
        source_path(reference)


def test_a_url_loses_its_origin_query_and_escapes_and_is_checked_after():
    origin = ["https://cdn.legacy.test/"]
    assert source_path("https://cdn.legacy.test/u/bo%20face.png?v=3#x", origin) == "u/bo face.png"
    assert source_path("avatars/ada.jpg", origin) == "avatars/ada.jpg"
    with pytest.raises(Misfit):
        source_path("https://cdn.legacy.test/%2e%2e/secret", origin)
    with pytest.raises(Misfit):
        source_path("https://cdn.legacy.test/", origin)


def test_public_urls_and_the_objects_they_name():
    buckets = Buckets("up", "media", "https://cdn.kalakrut.test/media/")
    assert buckets.url("legacy/u/bo face.png") == "https://cdn.kalakrut.test/media/legacy/u/bo%20face.png"
    assert buckets.object_of_url("https://cdn.kalakrut.test/media/legacy/u/bo%20face.png") == "legacy/u/bo face.png"
    assert buckets.object_of_url("https://cdn.kalakrut.test/media/") is None
    assert buckets.object_of_url("https://elsewhere.test/media/a.png") is None


@pytest.mark.parametrize("under", ["uploads/", "media/x/", "originals/", "imported", "../x/", "/x/", "a//"])
def test_a_mapping_never_places_objects_where_the_platform_writes_or_outside_a_folder(under):
    from pydantic import ValidationError

    from infra.datamove.mapping import MediaRule

    with pytest.raises(ValidationError):
        MediaRule(to="uploads", under=under)


def test_a_mapped_reference_becomes_the_name_or_url_it_gets_in_the_target():
    from infra.datamove.mapping import MediaRule

    buckets = Buckets("up", "media", "https://cdn.kalakrut.test/media/")
    assert MediaRule(to="uploads", under="legacy/").rewrite("a/b.jpg", None) == "legacy/a/b.jpg"
    public = MediaRule(to="public", under="legacy/", strip=["https://old.test/"])
    assert public.rewrite("https://old.test/u/x y.png?v=1", buckets) == "https://cdn.kalakrut.test/media/legacy/u/x%20y.png"
    with pytest.raises(Misfit):
        public.rewrite("https://other.test/u/x.png", buckets)


def test_the_listing_prefix_is_what_every_column_into_a_bucket_shares():
    from infra.datamove.objects import MediaColumn, _common_prefix

    columns = {MediaColumn("media", "object_name", "uploads", False, "legacy/pictures/"): [],
               MediaColumn("items", "scan", "uploads", False, "legacy/scans/"): [],
               MediaColumn("users", "avatar_url", "media", True, "old/"): []}
    assert _common_prefix(columns, "uploads") == "legacy/"
    assert _common_prefix(columns, "media") == "old/"
    assert _common_prefix({MediaColumn("a", "b", "uploads", False, "x/"): [],
                           MediaColumn("c", "d", "uploads", False, "y/"): []}, "uploads") is None

"""Listings read off the parsed structure (pure over chunks)."""

from knowledge.chunking import chunk_documents
from knowledge.listings import asks_for_listing, box_listing, box_number, category_listing, named_categories


def test_listing_questions_and_what_they_name():
    assert asks_for_listing("专栏3一共几项？分别是什么？")
    assert asks_for_listing("宁夏清单里弱有所扶包括哪些")
    assert not asks_for_listing("孕前检查免费吗")
    assert box_number("广西规划专栏 16 包括哪几项") == "16"
    assert named_categories("老有所养和住有所居各有几项") == ["老有所养", "住有所居"]
    assert named_categories("优军服务那一类") == ["优军服务保障"]


def test_ningxia_category_totals_match_the_catalogue(sources, catalogue):
    chunks = chunk_documents(sources)
    for category, count in catalogue.counts()["ningxia"].items():
        listing = category_listing(chunks, "ningxia", category)
        assert listing is not None and listing.total == count, category


def test_box_items_in_order_with_their_chunks(sources):
    chunks = chunk_documents(sources)
    listing = box_listing(chunks, "guangxi", "3")
    assert listing.items[0] == "基本公共服务标准" and len(listing.items) == 5
    assert len(listing.quotes) == 5 and all(c.region == "guangxi" for c in listing.quotes)
    assert box_listing(chunks, "guangxi", "99") is None

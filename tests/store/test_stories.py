"""Stories in the archive, on both backends: the labelled reprints and hard negatives,
grouping that does not depend on the order of arrival, and the recompute pass."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from finews.model import BEIJING, Article
from finews.parallel import chunks
from finews.stories import StoryRules
from tests.stories_eval import labelled_articles, pairwise, stories_by_code

BASE = ("中国人民银行12月2日以利率招标方式开展了160亿元7天期逆回购操作，中标利率为1.5%，与此前持平。"
        "鉴于当日有200亿元逆回购到期，央行当日实现净回笼40亿元。分析人士指出，近期资金面整体保持平稳。")
TITLE = "央行开展160亿元逆回购"
T0 = datetime(2024, 12, 2, 9, 0, tzinfo=BEIJING)


def article(code: str, title: str, body: str, outlet: str = "证券时报", hours: float = 0) -> Article:
    return Article(code=code, title=title, published=T0 + timedelta(hours=hours), outlet=outlet, body=body)


def partition(found: dict[str, int]) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for code, story in found.items():
        groups.setdefault(story, set()).add(code)
    return {frozenset(g) for g in groups.values()}


def test_the_labelled_set_is_grouped_with_pairwise_precision_and_recall(store):
    articles, truth = labelled_articles()
    assert len(set(truth.values())) >= 40 and len(articles) > 150
    store.upsert(articles)
    precision, recall, wrong, missed = pairwise(truth, stories_by_code(store))
    assert precision >= 0.98 and recall >= 0.95, (precision, recall, wrong[:5], missed[:5])


def test_importing_in_any_order_and_batching_gives_the_same_stories(store, tmp_path):
    from finews.store import open_store

    articles, _ = labelled_articles()
    store.upsert(articles)
    expected = partition(stories_by_code(store))
    leads = set(stories_by_code(store).values())
    for seed in (1, 2):
        shuffled, _ = labelled_articles()
        random.Random(seed).shuffle(shuffled)
        with open_store(str(tmp_path / f"order{seed}.db")) as other:
            for start in range(0, len(shuffled), 1 + seed * 5):
                other.upsert(shuffled[start:start + 1 + seed * 5])
            assert partition(stories_by_code(other)) == expected
            assert set(stories_by_code(other).values()) == leads  # each named by its first article


def test_copies_whose_figures_or_companies_differ_are_different_stories(store):
    store.upsert([
        article("a", TITLE, BASE),
        article("b", "【独家】央行开展160亿元逆回购", "新华社北京12月2日电（记者 张晓明）" + BASE
                + "郑重声明：本文仅供参考。", "新华社", 1),
        article("c", "央行开展1600亿元逆回购", BASE.replace("160亿", "1600亿"), "财联社", 2),
        article("d", "贵州茅台发布2024年年报", "贵州茅台发布2024年年度报告，公司实现营业收入1700亿元，"
                "同比增长15%。公司表示将继续推进高质量发展，加大研发投入。", "证券时报", 3),
        article("e", "五粮液发布2024年年报", "五粮液发布2024年年度报告，公司实现营业收入1700亿元，"
                "同比增长15%。公司表示将继续推进高质量发展，加大研发投入。", "证券时报", 4),
    ])
    found = stories_by_code(store)
    assert found["a"] == found["b"]
    assert len({found["a"], found["c"], found["d"], found["e"]}) == 4


def test_a_flash_item_with_the_headline_and_lead_joins_the_column_article(store):
    lead = BASE.split("。")[0] + "。"
    more = "展望后市，市场机构普遍预计流动性将进一步改善。" * 3
    store.upsert([article("col", TITLE, BASE + more, "证券时报")])
    store.upsert([article("flash", "【央行开展160亿元逆回购】", f"财联社12月2日电，{lead}", "东财滚动", 0.5)])
    found = stories_by_code(store)
    assert found["flash"] == found["col"]
    assert {e.key for e in store.log_since(0) if e.action == "story"} == {
        a.key for a in store.summaries() if a.code == "col"}


def test_the_same_outlet_twice_under_two_codes_is_one_story_and_far_apart_copies_are_not(store):
    store.upsert([article("x1", TITLE, BASE), article("x2", TITLE, BASE, hours=2),
                  article("x3", TITLE, BASE, hours=24 * 8)])
    found = stories_by_code(store)
    assert found["x1"] == found["x2"] != found["x3"]


def test_recompute_groups_an_archive_stored_without_stories_and_turning_it_off_stores_none(store):
    articles, truth = labelled_articles()
    store.story_rules = StoryRules(enabled=False)
    store.upsert(articles)
    assert store.story_count() == 0 and store.ungrouped_count() == len(articles)
    store.story_rules = StoryRules()
    generation = store.stories_generation()
    batches = []
    count = store.regroup_stories(chunks(store.iter_articles(batch=40), 40), batches.append)
    assert sum(batches) == len(articles) and store.ungrouped_count() == 0
    assert count == len(set(truth.values())) and store.stories_generation() != generation
    precision, recall, _, _ = pairwise(truth, stories_by_code(store))
    assert precision >= 0.98 and recall >= 0.95


def test_a_rewritten_lead_passes_the_story_to_the_next_copy(store):
    store.upsert([article("l1", TITLE, BASE), article("l2", TITLE, BASE, "新华社", 1),
                  article("l3", TITLE, BASE, "财联社", 2)])
    longer = BASE + "另据了解，本周还有多笔逆回购到期。"
    store.upsert([article("l1", TITLE, longer, hours=3)])
    found = stories_by_code(store)
    keys = {a.code: a.key for a in store.summaries()}
    assert found["l2"] == found["l3"] == keys["l2"]

"""A generator of realistic archives for benchmarks: about 60 outlets over two years."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from finews.model import BEIJING, Article
from finews.slugs import pinyin_slug

OUTLETS = [
    "南方都市报", "上海证券报", "中国证券报", "证券时报", "21世纪经济报道", "每日经济新闻",
    "第一财经", "财联社", "券商中国", "新华社", "人民日报", "央视新闻客户端", "经济日报",
    "中国基金报", "证券日报", "华夏时报", "经济观察报", "界面新闻", "澎湃新闻", "北京商报",
    "新京报", "中国经营报", "金融时报", "国际金融报", "时代周报", "投资快报", "红星资本局",
    "智通财经", "格隆汇", "Wind资讯", "FX168财经", "e公司", "财新网", "第一财经日报",
    "中国新闻网", "环球时报", "光明日报", "科创板日报", "蓝鲸财经", "观点网", "长江商报",
    "中新经纬", "上观新闻", "深圳商报", "广州日报", "南方日报", "封面新闻", "大众证券报",
    "期货日报", "中国银行保险报", "每经网", "东方财富研究中心", "财经网", "钛媒体",
    "36氪", "雷帝网", "IT之家", "新浪财经", "腾讯新闻", "网易财经",
]
WORDS = [
    "芯片", "降息", "央行", "股市", "债券", "基金", "银行", "证券", "保险", "利率", "汇率", "人民币", "美元", "通胀", "经济",
    "增长", "出口", "进口", "消费", "投资", "企业", "公司", "上市", "营收", "利润", "同比", "环比", "季度", "年度", "市场",
    "指数", "板块", "新能源", "汽车", "光伏", "锂电", "半导体", "医药", "白酒", "地产", "房价", "政策", "监管", "改革", "开放",
    "科技", "创新", "数字", "平台", "资本", "融资", "并购", "重组", "分红", "回购", "减持", "增持", "股东", "董事会", "业绩",
    "预告", "财报", "上涨", "下跌", "收盘", "开盘", "涨停", "跌停", "成交", "额度", "外资", "北向", "南向", "港股", "美股",
    "A股", "期货", "原油", "黄金", "铜价", "钢铁", "煤炭", "电力", "算力", "人工智能", "大模型", "机器人", "5G", "云计算",
    "数据中心", "GDP", "CPI", "PMI", "ETF", "IPO", "LPR", "2024年", "3.5%", "iPhone", "AI芯片",
]
PUNCT = "，，，。、；"


def sentence(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) + (rng.choice(PUNCT) if rng.random() < 0.2 else "")
                   for _ in range(rng.randint(8, 20))) + "。"


def body(rng: random.Random, low: int = 1500, high: int = 4000) -> str:
    target = rng.randint(low, high)
    parts: list[str] = []
    size = 0
    while size < target:
        paragraph = "<p>" + "".join(sentence(rng) for _ in range(rng.randint(2, 5))) + "</p>"
        parts.append(paragraph)
        size += len(paragraph)
    return "".join(parts)[:target]


def articles(n: int, seed: int = 1, start: datetime | None = None) -> Iterator[Article]:
    """n articles spread over two years, newest last, deterministic for a seed."""
    rng = random.Random(seed)
    start = start or datetime(2023, 1, 1, tzinfo=BEIJING)
    span = timedelta(days=730).total_seconds()
    slugs = {outlet: pinyin_slug(outlet) for outlet in OUTLETS}
    for i in range(n):
        outlet = OUTLETS[rng.randrange(len(OUTLETS))]
        published = start + timedelta(seconds=int(span * i / max(n, 1)) + rng.randint(0, 59))
        code = f"NW{published:%Y%m%d}{i:010d}"
        yield Article(
            code=code,
            title=sentence(rng)[:40].rstrip("。，、；"),
            published=published,
            outlet=outlet,
            category=slugs[outlet],
            tags=[f"{outlet}新闻"],
            body=body(rng),
            url=f"http://finance.eastmoney.com/a/{code[2:]}.html",
            source="bench",
        )

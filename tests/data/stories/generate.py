"""Writes labelled.json: reprints of one report grouped by story, and hard negatives.

Each template is written out for several companies and figures: those are different
stories that share 80-95% of their text. Each story is then copied by other outlets the
way reprints differ: a marked or reordered headline, an added dateline and byline, a
source note or disclaimer, a trimmed paragraph, a 7×24 item with the headline and lead.
Run it again to regenerate (it is deterministic): python tests/data/stories/generate.py
"""

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

TEMPLATES = [
    ("{co}发布{year}年年报 净利润同比增长{p1}%",
     ["{co}{m}月{d}日晚间发布{year}年年度报告，公司全年实现营业收入{n1}亿元，同比增长{p2}%；实现归属于上市公司股东的净利润{n2}亿元，同比增长{p1}%。",
      "公告显示，公司拟向全体股东每10股派发现金红利{n3}元（含税）。报告期内，公司主营业务稳步发展，核心产品市场占有率进一步提升。",
      "{co}表示，{next}年公司将继续聚焦主业，加大研发投入，推进数字化转型，力争实现营业收入和利润的持续增长。",
      "业内人士认为，在行业整体承压的背景下，公司业绩表现好于市场预期，后续需关注原材料价格波动和下游需求变化。"]),
    ("央行开展{n1}亿元逆回购操作 中标利率{r1}%",
     ["中国人民银行{m}月{d}日以利率招标方式开展了{n1}亿元{days}天期逆回购操作，中标利率为{r1}%，与此前持平。",
      "鉴于当日有{n2}亿元逆回购到期，央行当日实现净投放{n3}亿元。",
      "分析人士指出，近期资金面整体保持平稳，央行通过公开市场操作保持流动性合理充裕，短期利率有望围绕政策利率波动。",
      "展望后市，市场机构普遍预计，随着财政支出加快，银行体系流动性将进一步改善。"]),
    ("{co}拟回购不超过{n1}亿元股份",
     ["{co}{m}月{d}日公告称，公司拟以集中竞价交易方式回购公司股份，回购资金总额不低于{n2}亿元且不超过{n1}亿元，回购价格不超过每股{r1}元。",
      "本次回购的股份将用于员工持股计划或股权激励，回购期限为自董事会审议通过之日起不超过{months}个月。",
      "公司表示，基于对未来发展前景的信心和对公司价值的认可，为维护广大投资者利益，增强投资者信心，决定实施本次回购。",
      "截至{m}月{d}日收盘，{co}股价报{r2}元，总市值约{n3}亿元。"]),
    ("{co}控股股东拟减持不超过{p1}%股份",
     ["{co}{m}月{d}日晚间公告，公司控股股东计划自公告披露之日起15个交易日后的3个月内，通过集中竞价或大宗交易方式减持公司股份不超过{n1}万股，即不超过公司总股本的{p1}%。",
      "公告称，本次减持原因为股东自身资金需求，减持价格将根据减持时的市场价格确定。",
      "截至公告日，控股股东持有公司股份{n2}万股，占公司总股本的{p2}%。",
      "公司表示，本次减持计划的实施不会导致公司控制权发生变更，不会对公司治理结构及持续经营产生重大影响。"]),
    ("国家统计局：{m}月CPI同比上涨{r1}% PPI同比下降{r2}%",
     ["国家统计局{m2}月{d}日发布数据显示，{m}月份，全国居民消费价格同比上涨{r1}%，环比下降{r3}%。其中，城市上涨{r1}%，农村上涨{r4}%。",
      "{m}月份，全国工业生产者出厂价格同比下降{r2}%，环比持平；工业生产者购进价格同比下降{r5}%。",
      "国家统计局城市司首席统计师表示，{m}月份，受季节性因素和国际大宗商品价格波动影响，CPI同比涨幅有所回落，PPI同比降幅收窄。",
      "分析人士认为，当前物价总体保持温和，为宏观政策提供了较大空间。"]),
    ("{co}中标{n1}亿元重大项目",
     ["{co}{m}月{d}日公告，公司近日收到中标通知书，确认公司为某重点工程项目的中标单位，中标金额约{n1}亿元，约占公司上一年度经审计营业收入的{p1}%。",
      "公告显示，该项目工期为{months}个月，项目的顺利实施将对公司未来经营业绩产生积极影响。",
      "公司表示，本次中标体现了公司在行业内的综合竞争实力，有利于进一步提升公司的市场影响力。",
      "截至目前，公司尚未与招标方签订正式合同，合同条款尚存在不确定性。"]),
    ("{co}股东大会通过{year}年度利润分配方案",
     ["{co}{m}月{d}日召开{year}年年度股东大会，审议通过了公司{year}年度利润分配方案，以总股本为基数，向全体股东每10股派发现金红利{n3}元。",
      "本次利润分配共计派发现金红利{n1}亿元，占公司当年归属于上市公司股东净利润的{p1}%。",
      "会上，公司管理层就经营情况、发展战略等问题与投资者进行了交流。公司董事长表示，公司将坚持稳健经营，持续回报股东。",
      "据了解，这是公司连续第{times}年实施现金分红。"]),
    ("{co}预计前三季度净利润{n1}亿元至{n2}亿元",
     ["{co}{m}月{d}日晚间发布业绩预告，预计{year}年前三季度实现归属于上市公司股东的净利润{n1}亿元至{n2}亿元，同比增长{p1}%至{p2}%。",
      "对于业绩变动原因，公司表示，报告期内主要产品销量增长，产品结构持续优化，同时公司加强成本管控，期间费用率有所下降。",
      "公司提醒投资者，本次业绩预告是公司财务部门初步测算的结果，未经会计师事务所审计。",
      "具体财务数据以公司披露的{year}年第三季度报告为准，敬请广大投资者注意投资风险。"]),
    ("证监会对{co}立案调查",
     ["{co}{m}月{d}日晚间公告称，公司于当日收到中国证监会下发的《立案告知书》，因公司涉嫌信息披露违法违规，根据相关法律法规，中国证监会决定对公司立案。",
      "公告显示，立案调查期间，公司将积极配合中国证监会的各项工作，并严格按照监管要求履行信息披露义务。",
      "目前，公司各项生产经营活动正常开展。截至{m}月{d}日收盘，{co}股价报{r2}元，下跌{r1}%。",
      "业内人士表示，监管部门对信息披露违法违规行为保持零容忍态度，上市公司应当真实、准确、完整地披露信息。"]),
    ("沪指收涨{r1}% 成交额{n1}亿元",
     ["{m}月{d}日，A股三大指数集体收涨，沪指涨{r1}%，深证成指涨{r3}%，创业板指涨{r4}%。两市全天成交额{n1}亿元，较上个交易日放量{n2}亿元。",
      "盘面上，半导体、人工智能、券商等板块涨幅居前，煤炭、银行等板块小幅调整。全市场超{n3}只个股上涨。",
      "北向资金全天净买入{r5}亿元。分析人士认为，市场情绪有所回暖，短期震荡上行格局有望延续。",
      "从中长期看，政策面持续发力，经济基本面稳步修复，A股估值处于历史较低水平，具备较好的配置价值。"]),
    ("{co}与{partner}签署战略合作协议",
     ["{co}{m}月{d}日公告，公司与{partner}签署战略合作框架协议，双方将在新能源汽车、智能制造等领域开展全方位合作，合作期限为{years}年。",
      "根据协议，双方将共同设立联合实验室，在技术研发、产品开发和市场推广方面资源共享、优势互补。",
      "公司表示，本次合作有利于发挥双方优势，提升公司的核心竞争力，对公司未来发展具有积极意义。",
      "本协议为框架性协议，具体合作项目需另行签订协议，对公司本年度经营业绩不构成重大影响。"]),
    ("财政部：前{m}月全国一般公共预算收入{n1}亿元",
     ["财政部{m2}月{d}日发布数据，{year}年1-{m}月，全国一般公共预算收入{n1}亿元，同比增长{r1}%。其中，全国税收收入{n2}亿元，同比增长{r3}%；非税收入{n3}亿元。",
      "1-{m}月，全国一般公共预算支出{n4}亿元，同比增长{r4}%。",
      "财政部有关负责人表示，财政收入保持恢复性增长态势，主要受经济持续回升向好等因素带动。",
      "从支出看，教育、社会保障和就业、卫生健康等重点领域支出得到有力保障。"]),
]

COMPANIES = ["贵州茅台", "五粮液", "宁德时代", "比亚迪", "隆基绿能", "中国平安", "招商银行", "海康威视",
             "美的集团", "格力电器", "万科A", "长江电力", "中信证券", "恒瑞医药", "立讯精密", "京东方A"]
PARTNERS = ["华为技术", "中国移动", "国家电网", "中国中车"]
OUTLETS = ["证券时报", "中国证券报", "上海证券报", "证券日报", "财联社", "新华社", "第一财经",
           "每日经济新闻", "21世纪经济报道", "澎湃新闻", "界面新闻", "中新经纬"]
DATELINES = ["新华社北京{m}月{d}日电（记者 张晓明）", "证券时报网讯，", "本报讯（记者 李静）",
             "中证网讯（记者 王琳）{m}月{d}日，", "据{outlet}报道，", "（记者 赵刚）"]
TRAILERS = ["（文章来源：{outlet}）",
            "郑重声明：东方财富网发布此信息的目的在于传播更多信息，与本站立场无关。",
            "责任编辑：陈晨", "免责声明：本文内容仅供参考，不构成投资建议。", "（编辑 孙悦）"]


def figures(rng: random.Random) -> dict[str, object]:
    return {
        "n1": rng.choice([160, 1600, 320, 25, 250, 88, 1280, 45]), "n2": rng.randint(10, 999),
        "n3": rng.randint(2, 99), "n4": rng.randint(1000, 9999),
        "p1": rng.randint(3, 60), "p2": rng.randint(3, 60),
        "r1": round(rng.uniform(0.1, 3), 2), "r2": round(rng.uniform(5, 90), 2),
        "r3": round(rng.uniform(0.1, 3), 2), "r4": round(rng.uniform(0.1, 3), 2),
        "r5": round(rng.uniform(10, 90), 2), "days": 7, "months": rng.choice([6, 12, 18]),
        "times": rng.randint(3, 12), "years": rng.choice([3, 5]), "year": rng.choice([2023, 2024]),
        "m": rng.randint(1, 11), "d": rng.randint(1, 28),
    }


def story(rng: random.Random, template: tuple[str, list[str]], company: str, values: dict) -> dict:
    values = {**values, "co": company, "partner": rng.choice(PARTNERS), "next": values["year"] + 1,
              "m2": values["m"] + 1}
    title, paragraphs = template
    return {"title": title.format(**values), "paragraphs": [p.format(**values) for p in paragraphs],
            "values": values}


def copy(rng: random.Random, original: dict, outlet: str, kind: str) -> tuple[str, str]:
    title, paragraphs = original["title"], list(original["paragraphs"])
    values = {**original["values"], "outlet": rng.choice(OUTLETS)}
    if kind == "flash":
        return f"【{title}】", f"财联社{values['m']}月{values['d']}日电，{paragraphs[0]}"
    marks = [lambda t: "【独家】" + t, lambda t: "快讯：" + t, lambda t: f"{outlet}：" + t,
             lambda t: " ".join(t.split(" ")[::-1]) if " " in t else t + "——" + outlet, lambda t: t]
    title = rng.choice(marks)(title)
    if rng.random() < 0.6:
        paragraphs[0] = rng.choice(DATELINES).format(**values) + paragraphs[0]
    if rng.random() < 0.5:
        del paragraphs[rng.choice([len(paragraphs) - 1, len(paragraphs) - 2])]
    if rng.random() < 0.6:
        paragraphs.append(rng.choice(TRAILERS).format(**values))
    return title, "".join(f"<p>{p}</p>" for p in paragraphs)


def main() -> None:
    rng = random.Random(16)
    articles, start = [], datetime(2024, 12, 2, 8, 0)
    number = 0
    for t, template in enumerate(TEMPLATES):
        companies = rng.sample(COMPANIES, 4)
        base = figures(rng)
        for variant, company in enumerate(companies):
            values = dict(base) if variant < 2 else figures(rng)
            if variant == 1 and "{co}" not in template[0]:
                values["n1"] *= 10  # 160 -> 1600: only the headline's figure differs
                values["r1"] = round(values["r1"] + 1, 2)
            # with a company in the template, the first two differ by the company alone
            original = story(rng, template, company, values)
            group = f"t{t}-{variant}"
            when = start + timedelta(hours=t * 5 + variant)
            outlets = rng.sample(OUTLETS, rng.randint(2, 5))
            kinds = ["original"] + [rng.choice(["copy", "copy", "copy", "flash"]) for _ in outlets[1:]]
            if variant == 1:
                outlets.append(outlets[0])  # one outlet runs it twice, under two codes
                kinds.append("copy")
            for outlet, kind in zip(outlets, kinds, strict=True):
                number += 1
                if kind == "original":
                    title = original["title"]
                    body = "".join(f"<p>{p}</p>" for p in original["paragraphs"])
                else:
                    title, body = copy(rng, original, outlet, kind)
                articles.append({
                    "code": f"S{number:05d}", "group": group, "kind": kind, "outlet": outlet,
                    "title": title, "body": body,
                    "published": (when + timedelta(minutes=rng.randint(0, 600))).isoformat() + "+08:00",
                })
    out = Path(__file__).with_name("labelled.json")
    out.write_text(json.dumps(articles, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(articles)} articles in {len({a['group'] for a in articles})} stories -> {out}")


if __name__ == "__main__":
    main()

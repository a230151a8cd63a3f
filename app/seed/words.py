"""The vocabulary of the generated data: Chinese and English names, trades, products and phrases.

Half the rows are Chinese, half English, with the shape of real CRM text:
company names built from a city, a brand, a trade and a legal suffix; people
with common Chinese and English names; activities and tickets written from
templates that mention brands, products and numbers. Brands come from a large
generated vocabulary, so a brand query matches tens to hundreds of rows out of
millions, while a city or a single common character matches many thousands:
both kinds of query a benchmark needs. Used by app.seed.sql_rows (as SQL arrays)
and app.seed.sealed_rows (in Python).
"""
from __future__ import annotations

from app.models.choices import INDUSTRIES as CHOICES_INDUSTRIES

import random

CITIES_ZH = ["北京", "上海", "深圳", "广州", "杭州", "成都", "武汉", "南京", "西安", "苏州", "天津", "重庆",
             "长沙", "青岛", "厦门", "宁波", "大连", "昆明", "合肥", "郑州", "济南", "福州", "沈阳", "无锡",
             "东莞", "佛山", "珠海", "南昌", "贵阳", "兰州"]
CITIES_EN = ["Shanghai", "Beijing", "Hong Kong", "Singapore", "London", "New York", "San Francisco", "Berlin",
             "Tokyo", "Sydney", "Paris", "Toronto", "Chicago", "Seattle", "Boston", "Munich", "Dublin",
             "Amsterdam", "Madrid", "Austin"]
BRAND_CHARS = ("华为腾讯阿里巴京东美团小米联想海尔格力比亚迪中兴大疆网易百度顺丰万科恒安新希望金龙鱼"
               "伊利蒙牛娃哈农夫山泉青岛康师傅统一光明三一重工徐工潍柴宝钢鞍钢紫金洛阳钼业招商平安"
               "兴业浦发民生光大中信国泰君安海通申万宏源长城安信东方红星天宇盛世鼎泰鸿运瑞丰嘉禾")
TRADES_ZH = ["科技", "电子", "物流", "建材", "软件", "食品", "医药", "汽车", "纺织", "能源", "设计", "贸易",
             "传媒", "化工", "航运", "机械", "环保", "教育", "咨询", "通信"]
SUFFIXES_ZH = ["有限公司", "股份有限公司", "集团", "科技有限公司", "分公司", "贸易有限公司"]
SYLLABLES = ["ac", "al", "an", "ar", "ba", "bel", "bri", "ca", "cor", "da", "del", "dyn", "el", "en", "fa",
             "gen", "glo", "har", "in", "jo", "ka", "kor", "la", "lex", "lu", "ma", "mar", "mo", "nex", "no",
             "nov", "or", "pa", "pri", "qua", "ra", "ro", "sa", "sol", "ta", "ter", "tri", "u", "va", "ven",
             "vi", "vo", "xa", "ze", "zen"]
TRADES_EN = ["Technologies", "Logistics", "Software", "Foods", "Health", "Motors", "Textiles", "Energy",
             "Design", "Trading", "Media", "Chemicals", "Shipping", "Machinery", "Systems", "Labs",
             "Consulting", "Networks", "Robotics", "Finance"]
SUFFIXES_EN = ["Inc", "Ltd", "Group", "Corporation", "Holdings", "GmbH", "LLC", "International"]
INDUSTRIES = [v for v in CHOICES_INDUSTRIES if v != "Other"]  # documented values only (migration 0028)
SURNAMES_ZH = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN_ZH = "伟芳娜敏静磊洋勇艳杰军丽强秀英华明涛超霞平刚桂兰玉萍辉鹏飞晨阳雪梅琳丹欣怡浩宇博文子轩雨婷佳"
FIRST_EN = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Emma",
            "Oliver", "Sophia", "William", "Elizabeth", "Daniel", "Olivia", "Thomas", "Ava", "Lucas", "Mia",
            "Henry", "Grace", "Jack", "Chloe", "Noah", "Zoe", "Ethan", "Lily", "Samuel", "Hannah"]
LAST_EN = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark",
           "Garcia", "Martinez", "Anderson", "Thomas", "Moore", "Jackson", "White", "Harris", "Martin",
           "Thompson", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Carter"]
POSITIONS = ["CEO", "CTO", "CFO", "Purchasing Manager", "Sales Director", "IT Manager", "Operations Lead",
             "Procurement Specialist", "采购经理", "总经理", "技术总监", "财务主管", "销售总监", "运营经理"]
SOURCES = ["Website", "Referral", "Trade show", "Cold call", "LinkedIn", "Partner", "Webinar", "Newsletter",
           "官网", "展会", "老客户推荐", "微信", "电话营销", "合作伙伴"]
PRODUCTS_EN = ["CRM licence", "cloud storage", "support contract", "ERP upgrade", "data platform",
               "security audit", "training package", "hardware refresh", "API integration", "analytics suite"]
PRODUCTS_ZH = ["云存储", "维保合同", "系统升级", "数据平台", "安全审计", "培训服务", "硬件更新", "接口集成",
               "分析套件", "年度采购"]
SUBJECTS_EN = ["Contract renewal with {b}", "Quarterly review: {p}", "Product demo for {b}",
               "Pricing discussion ({p})", "Follow-up call re {p}", "Kick-off meeting {b}", "Site visit at {c}",
               "Invoice question from {b}", "Renewals planning {y}", "Escalation: {p} outage"]
SUBJECTS_ZH = ["{b}合同续签", "{p}季度回顾", "{b}产品演示", "{p}报价沟通", "上门拜访{b}", "{c}客户回访",
               "{b}发票问题", "{y}年度续约计划", "{p}故障升级", "{b}项目启动会"]
SENTENCES_EN = ["Discussed the {p} renewal and the {n}% discount they asked for.",
                "Customer wants a proposal for {p} before the end of the quarter.",
                "Sent the signed contract to {b} procurement; waiting for the purchase order.",
                "Call with the {c} office about delivery delays and invoice #{n}.",
                "They are evaluating competitors; follow up next week with pricing.",
                "Demo went well, the CTO asked about single sign-on and audit logs.",
                "Renewing {n} seats, budget approved by finance.",
                "Reported login failures since Monday; escalated to second-level support."]
SENTENCES_ZH = ["客户希望在季度末前收到{p}的报价方案。", "与{b}采购部沟通合同续签，对方要求{n}%折扣。",
                "{c}办公室反馈物流延迟，发票号{n}。", "演示效果良好，技术总监询问单点登录和审计日志。",
                "客户正在评估竞争对手，下周跟进价格。", "自周一起系统无法登录，已升级到二线支持。",
                "续签{n}个账号，财务已批准预算。", "已将签署的合同发送给{b}，等待采购订单。"]
TICKET_SUBJECTS_EN = ["Cannot log in", "Invoice is wrong", "Delivery delayed", "Feature request: export to {p}",
                      "Data sync failing", "Password reset for {b}", "Report totals do not match",
                      "API rate limit reached"]
TICKET_SUBJECTS_ZH = ["系统无法登录", "发票金额错误", "物流延迟", "数据同步失败", "{b}密码重置",
                      "报表数据不一致", "{p}无法使用", "接口调用超限"]


class Vocabulary:
    """Brands and names drawn once per generator (large enough that brands are selective)."""

    def __init__(self, rng: random.Random, brands: int = 20_000) -> None:
        chars = BRAND_CHARS
        self.brands_zh = list({chars[rng.randrange(len(chars))] + chars[rng.randrange(len(chars))]
                               for _ in range(brands)})
        self.brands_en = list({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
                               for _ in range(brands)})


class Names:
    """A seeded random source with its brands: company names for the rows built in Python."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocab = Vocabulary(self.rng)

    def company(self, chinese: bool) -> str:
        r = self.rng
        if chinese:
            return r.choice(CITIES_ZH) + r.choice(self.vocab.brands_zh) + r.choice(TRADES_ZH) + r.choice(SUFFIXES_ZH)
        return f"{r.choice(self.vocab.brands_en)} {r.choice(TRADES_EN)} {r.choice(SUFFIXES_EN)}"

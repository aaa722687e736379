"""Seeded synthetic data for the Henan e-supervision bundle (HN-ESUP), at any scale.

    python benchmarks/gen_henan.py --cases 1000000 --seed 7 --out DIR

writes, streaming (memory stays flat whatever ``--cases`` is):

* ``DIR/items.json``        ~60 service items (事项目录): registered steps, material lists,
                            fee standards, allowed special procedures, intermediary, visits,
                            whether a certificate is issued;
* ``DIR/cases.jsonl``       one case (办件) per line, received 2019-01-02 … 2025-06-27 in date
                            order: corrections (some pauses still open), special procedures incl.
                            批前公示, fees (some above standard / without basis / bad reduction),
                            certificates (late, ministry-determined, incomplete face), uploads of
                            steps / materials / info elements with defects and later fixes;
* ``DIR/evaluations.jsonl`` the applicants' evaluations (好差评) of ~35 % of the completed cases,
                            some abnormal, some appealed (in time or late), some re-evaluated;
* ``DIR/manifest.json``     the seed, counts, the as-of date the data is meant for, and the line
                            numbers of the deliberately malformed lines of each JSONL file.

A tiny fraction of lines (``--malformed-rate``, default 0.05 %) is deliberately malformed (broken
JSON, a missing required field, a wrong type, an impossible date); every other record validates
against ``policies/henan/entities/*.yaml`` (tests/bench checks this). The same ``--seed`` gives the
same bytes. Working days come from the shipped calendar (``govsup.engine.calendar``).

The generator is also a library: :func:`make_items`, :func:`iter_records` (yields
``(kind, record_or_raw_line, malformed)``) are used by the tests and the benchmark.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Iterator

from govsup.engine.calendar import load_calendar, shipped_calendar_dir

START = _dt.date(2019, 1, 2)
END = _dt.date(2025, 6, 27)      # last receipt date
AS_OF = _dt.date(2025, 6, 30)    # the evaluation date the data is meant for
HORIZON = _dt.date(2025, 6, 30)  # events after this are "not yet happened"

CHANNELS = (("政务服务网", 38), ("移动端", 17), ("政务服务大厅", 35), ("部门业务系统", 10))
SPECIAL_KINDS = ("听证", "招标", "拍卖", "检验", "检测", "检疫", "鉴定", "专家评审", "批前公示")
ELEMENTS_ALL = ("业务办理过程基本信息", "申请人/申请单位名称", "申请人/申请单位联系方式")
ELEMENT_FOR = {"非正常办结": "非正常办结原因", "不予受理": "不受理原因"}
REGIONS = ("郑州市", "开封市", "洛阳市", "平顶山市", "安阳市", "鹤壁市", "新乡市", "焦作市",
           "濮阳市", "许昌市", "漯河市", "三门峡市", "南阳市", "商丘市", "信阳市", "周口市",
           "驻马店市", "济源示范区")
AREA_CODES = ("410102", "410105", "410202", "410305", "410402", "410502", "410602", "410702",
              "410802", "410902", "411002", "411102", "411202", "411302", "411402", "411502",
              "411602", "411702", "419001")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文斌辉鹏飞宇浩然欣怡子涵"
COMPANY = ("河南{}实业有限公司", "{}商贸有限公司", "{}建设工程有限公司", "{}食品有限公司",
           "{}科技有限公司", "{}农业专业合作社", "{}物流有限公司")
STEP_TYPOS = {"审查": "审核", "决定": "审批", "办结": "结案", "受理": "接件", "制证": "发证",
              "现场核查": "现场勘验"}
REASONS = ("工作人员推诿，多次让我补材料", "等了很久没人受理", "办事指南写得不清楚",
           "窗口人员态度冷淡", "要求提供指南以外的证明", "系统一直提示错误")
OTHER_PROBLEMS = ("停车位太少", "网上办理页面经常打不开", "建议增加周末窗口", "叫号系统混乱",
                  "材料清单与网上公布的不一致")

# ---------------------------------------------------------------------------------------- items

_DEPTS = {
    "市场监督管理局": [("食品经营许可", True, 20, 10), ("食品生产许可", True, 20, 15),
                      ("药品零售企业许可", True, 30, 15), ("特种设备使用登记", True, 30, 5),
                      ("计量器具型式批准", True, 20, 15), ("个体工商户登记", True, 15, 3),
                      ("企业名称变更登记", True, 15, 3)],
    "住房和城乡建设局": [("建筑工程施工许可证核发", True, 15, 7), ("商品房预售许可", True, 20, 10),
                        ("建筑业企业资质认定", True, 20, 15), ("城市建筑垃圾处置核准", True, 20, 10),
                        ("燃气经营许可", True, 20, 12)],
    "自然资源和规划局": [("建设工程规划许可", True, 20, 15), ("建设用地规划许可", True, 20, 15),
                        ("乡村建设规划许可", True, 20, 12), ("不动产首次登记", True, 30, 5),
                        ("采矿权新立登记", True, 40, 20)],
    "交通运输局": [("道路货物运输经营许可", True, 20, 10), ("道路旅客运输经营许可", True, 20, 15),
                  ("出租汽车经营许可", True, 20, 10), ("公路超限运输许可", True, 15, 5),
                  ("机动车维修经营备案", False, 5, 1)],
    "卫生健康委员会": [("医疗机构执业登记", True, 45, 20), ("医师执业注册", True, 20, 10),
                      ("公共场所卫生许可", True, 20, 10), ("放射诊疗许可", True, 20, 15),
                      ("母婴保健技术服务执业许可", True, 20, 15)],
    "生态环境局": [("建设项目环境影响报告书审批", True, 60, 30), ("排污许可证核发", True, 20, 15),
                  ("危险废物经营许可", True, 20, 20), ("建设项目环境影响报告表审批", True, 30, 15)],
    "人力资源和社会保障局": [("劳务派遣经营许可", True, 20, 10), ("人力资源服务许可", True, 20, 10),
                            ("职业技能等级认定", True, 20, 15), ("失业保险金申领", False, 10, 3),
                            ("社会保障卡申领", True, 10, 5)],
    "公安局": [("户口迁移", False, 20, 5), ("居民身份证换领", True, 60, 20),
              ("大型群众性活动安全许可", True, 7, 5), ("爆破作业单位许可", True, 20, 15),
              ("机动车登记", True, 5, 1)],
    "教育局": [("民办学校办学许可", True, 90, 30), ("教师资格认定", True, 60, 20),
              ("校外培训机构审批", True, 30, 15)],
    "水利局": [("取水许可", True, 45, 20), ("河道管理范围内建设项目许可", True, 20, 15),
              ("水土保持方案审批", True, 20, 10)],
    "文化广电和旅游局": [("娱乐场所经营许可", True, 20, 10), ("营业性演出许可", True, 20, 5),
                        ("旅行社设立许可", True, 20, 10), ("网吧经营许可", True, 20, 10)],
    "农业农村局": [("兽药经营许可", True, 20, 10), ("农药经营许可", True, 20, 10),
                  ("动物防疫条件合格证核发", True, 20, 15), ("种子生产经营许可", True, 20, 15)],
    "民政局": [("社会团体成立登记", True, 60, 30), ("民办非企业单位登记", True, 60, 30),
              ("养老机构备案", False, 10, 3)],
}
_MATERIAL_POOL = ("申请书", "营业执照", "法定代表人身份证明", "经营场所使用证明", "场所平面图",
                  "设备设施清单", "从业人员健康证明", "管理制度文本", "授权委托书", "技术方案",
                  "专家论证意见", "安全评价报告", "检验检测报告", "资质证明", "可行性研究报告",
                  "土地权属证明", "设计文件", "环境影响评价文件", "财务审计报告", "承诺书")
_STEP_SETS = (("收件", "受理", "审查", "决定", "办结"),
              ("收件", "受理", "审查", "现场核查", "决定", "办结"),
              ("收件", "受理", "审查", "决定", "制证", "办结"),
              ("收件", "受理", "办结"),
              ("收件", "受理", "审查", "批前公示", "决定", "制证", "办结"))


def make_items(seed: int) -> list[dict]:
    """~60 catalogue entries; the hidden limits (legal, promised days) are under ``_limits``."""
    rng = random.Random(f"items-{seed}")
    items = []
    n = 0
    for dept, rows in _DEPTS.items():
        for name, cert, legal, promised in rows:
            n += 1
            code = f"11410000MB{n:04d}XK{rng.randint(100, 999)}"
            steps = list(rng.choice(_STEP_SETS))
            pool = list(_MATERIAL_POOL)
            rng.shuffle(pool)
            mats = [{"name": f"{name}申请表", "required": True}]
            for m in pool[:rng.randint(2, 6)]:
                mats.append({"name": m, "required": rng.random() < 0.7})
            allowed = sorted(rng.sample(SPECIAL_KINDS, rng.choice((0, 0, 1, 2, 3))),
                             key=SPECIAL_KINDS.index)
            if "批前公示" in steps and "批前公示" not in allowed:
                allowed.append("批前公示")
            fees = []
            if rng.random() < 0.4:
                for j in range(rng.randint(1, 2)):
                    red = rng.choice(([], [], ["减收"], ["免收"], ["减收", "免收"], ["缓收"]))
                    fees.append({"code": f"F{n:03d}{j}", "name": ("工本费", "审查费", "登记费")[j % 3],
                                 "amount": float(rng.choice((10, 20, 50, 80, 100, 200, 500))),
                                 "basis": "豫发改收费〔2018〕号", "allowed_reductions": red})
            item = {"item_code": code, "name": name, "department": dept, "steps": steps,
                    "materials": mats, "allowed_special_procedures": allowed,
                    "fee_standards": fees, "intermediary_by_law": rng.random() < 0.15,
                    "promised_visits": rng.choice((0, 0, 1, 1, 1, 2)),
                    "issues_certificate": cert}
            if cert:
                item["certificate_name"] = name.replace("许可", "许可证").replace("登记", "登记证")
            item["_limits"] = (legal, promised)
            items.append(item)
    return items


def public_item(item: dict) -> dict:
    return {k: v for k, v in item.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------- cases


def _id_number(rng: random.Random) -> str:
    """A resident ID number with a valid GB 11643 check digit."""
    birth = _dt.date(1950, 1, 1) + _dt.timedelta(days=rng.randint(0, 365 * 55))
    body = f"{rng.choice(AREA_CODES)}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    s = sum(int(c) * k for c, k in zip(body, w)) % 11
    return body + "10X98765432"[s]


def _applicant(rng: random.Random) -> dict:
    if rng.random() < 0.6:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        a = {"name": name, "kind": "自然人", "id_number": _id_number(rng)}
    else:
        word = "".join(rng.choice(GIVEN) for _ in range(2))
        a = {"name": rng.choice(COMPANY).format(word), "kind": "法人",
             "id_number": f"91410{rng.randint(100, 999)}MA{rng.randint(10**7, 10**8 - 1)}"}
    a["phone"] = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10**7, 10**8 - 1)}"
    return a


class _Gen:
    def __init__(self, seed: int, n_cases: int, items: list[dict]):
        self.rng = random.Random(seed)
        self.n = n_cases
        self.items = items
        self.cal = load_calendar([shipped_calendar_dir()])
        self.span = (END - START).days
        self.ch_names = [c for c, _ in CHANNELS]
        self.ch_weights = [w for _, w in CHANNELS]
        self.item_weights = [1.0 / (1 + i % 7) for i in range(len(items))]

    # -- calendar helpers (C2)
    def wd(self, d: _dt.date, k: int) -> _dt.date:
        return self.cal.add_workdays(d, k) if k else d

    @staticmethod
    def days(d: _dt.date, k: int) -> _dt.date:
        return d + _dt.timedelta(days=k)

    @staticmethod
    def known(d):
        """Events after the horizon have not happened yet."""
        return d is not None and d <= HORIZON

    # -- one case
    def case(self, i: int) -> tuple[dict, dict | None]:
        rng = self.rng
        wd, days = self.wd, self.days
        base = START + _dt.timedelta(days=(i * self.span) // max(self.n, 1))
        rec = base if rng.random() < 0.7 else min(END, days(base, rng.randint(0, 3)))
        if rng.random() < 0.003:
            item = {"item_code": f"41999900XK{rng.randint(1000, 9999)}", "name": "未登记事项",
                    "steps": ["收件", "受理", "办结"], "materials": [], "fee_standards": [],
                    "allowed_special_procedures": [], "issues_certificate": False,
                    "department": "某局", "_limits": (20, 10), "promised_visits": 1,
                    "intermediary_by_law": False}
            unknown = True
        else:
            item = rng.choices(self.items, self.item_weights)[0]
            unknown = False
        legal, promised = item["_limits"]
        c: dict = {"case_id": f"HN{rec.year}{i + 1:09d}", "item_code": item["item_code"]}
        if rng.random() < 0.9:
            c["item_name"] = item["name"]
        if rng.random() < 0.97:
            c["department"] = item["department"]
        c["region"] = rng.choice(REGIONS)
        c["channel"] = rng.choices(self.ch_names, self.ch_weights)[0]
        c["applicant"] = _applicant(rng)
        c["received_on"] = rec
        corrections: list[dict] = []
        specials: list[dict] = []
        fees: list[dict] = []
        uploads: list[dict] = []

        # -- acceptance opinion (HN-ESUP-8.10)
        r = rng.random()
        delay = 0 if r < 0.55 else 1 if r < 0.82 else 2 if r < 0.93 else rng.randint(3, 8)
        if rng.random() < 0.002:
            delay = rng.randint(9, 40)  # forgotten
        opinion_on = wd(rec, delay)
        r = rng.random()
        opinion = "受理" if r < 0.81 else "补正告知" if r < 0.96 else "不予受理"
        mats = [m["name"] for m in item["materials"]] or ["申请书"]
        accepted_on = completed_on = None
        kind = None
        if not self.known(opinion_on):
            opinion_on = None
        elif opinion == "不予受理":
            c["acceptance_opinion_on"] = opinion_on
            c["acceptance_opinion"] = opinion
            completed_on, kind = opinion_on, "不予受理"
        elif opinion == "补正告知":
            if rng.random() < 0.85:
                c["acceptance_opinion_on"] = opinion_on
                c["acceptance_opinion"] = opinion
            issued = opinion_on if rng.random() < 0.9 else wd(rec, rng.randint(6, 12))  # 8.2a late
            n1 = {"notice_no": f"BZ{i + 1:09d}-1", "issued_on": issued,
                  "materials": rng.sample(mats, min(len(mats), rng.randint(1, 2)))}
            if rng.random() < 0.05:
                n1["submission_on"] = days(rec, rng.randint(0, 2))
                if n1["submission_on"] > issued:
                    n1["submission_on"] = issued
            corrections.append(n1)
            last = self._confirm(n1, issued)
            if last is not None and rng.random() < 0.18:
                # a second notice; sometimes asking for something the first did not (8.2b)
                issued2 = wd(last, rng.randint(0, 3))
                if self.known(issued2):
                    m2 = list(n1["materials"][:1])
                    if rng.random() < 0.5:
                        extra = [m for m in mats if m not in n1["materials"]]
                        if extra:
                            m2.append(rng.choice(extra))
                    n2 = {"notice_no": f"BZ{i + 1:09d}-2", "issued_on": issued2, "materials": m2}
                    if rng.random() < 0.9:  # concerns the resubmitted materials
                        n2["submission_on"] = last
                    corrections.append(n2)
                    last = self._confirm(n2, issued2)
            if last is not None:
                accepted_on = wd(last, rng.choice((0, 0, 1)))
        else:
            accepted_on = opinion_on
            if rng.random() < 0.7:
                c["acceptance_opinion_on"] = opinion_on
                c["acceptance_opinion"] = opinion
        if accepted_on is not None and not self.known(accepted_on):
            accepted_on = None

        # -- processing (HN-ESUP-7.2, 8.1, 8.3, 8.9)
        if accepted_on is not None:
            c["accepted_on"] = accepted_on
            p = promised if rng.random() > 0.01 else legal + rng.randint(1, 5)  # 7.2
            if rng.random() > 0.005:
                c["legal_days"] = legal
            if rng.random() > 0.005:
                c["promised_days"] = p
            r = rng.random()
            if r < 0.8:
                dur = rng.randint(0, max(0, p - 3))
            elif r < 0.94:
                dur = rng.randint(max(0, p - 2), p)          # countdown warnings (8.1a)
            else:
                dur = p + rng.randint(1, 12)                  # red cards (8.1b)
            extra_pause = 0
            if rng.random() < 0.03 and p > 2:  # a correction during processing pauses the clock
                issued = wd(accepted_on, rng.randint(1, max(1, p - 1)))
                if self.known(issued):
                    n3 = {"notice_no": f"BZ{i + 1:09d}-{len(corrections) + 1}", "issued_on": issued,
                          "materials": rng.sample(mats, 1)}
                    if rng.random() < 0.9:  # concerns materials handed in during processing
                        sub = wd(issued, -rng.randint(1, 6))
                        n3["submission_on"] = max(sub, accepted_on)
                    corrections.append(n3)
                    conf = self._confirm(n3, issued)
                    extra_pause = (self.cal.workdays_between(issued, conf)
                                   if conf is not None else 10 ** 4)
            if rng.random() < (0.08 if item["allowed_special_procedures"] else 0.004):
                specials.extend(self._specials(item, accepted_on))
            done = wd(accepted_on, dur + extra_pause) if extra_pause < 10 ** 4 else None
            if done is not None and self.known(done) and not (i % 997 == 0 and rng.random() < 0.5):
                completed_on = done
                kind = "正常办结" if rng.random() < 0.93 else "非正常办结"
        elif opinion == "受理" and opinion_on is not None and rng.random() < 0.001:
            # completed without an acceptance date on record (data gap for 8.1)
            completed_on, kind = wd(opinion_on, 3), "正常办结"
            if not self.known(completed_on):
                completed_on = kind = None
        if completed_on is not None:
            c["completed_on"] = completed_on
            if rng.random() > 0.003:
                c["completion_kind"] = kind

        # -- fees (HN-ESUP-8.4)
        if item["fee_standards"] and accepted_on is not None:
            for fs in item["fee_standards"]:
                if rng.random() < 0.15:
                    continue
                fee = {"standard_code": fs["code"], "name": fs["name"], "amount": fs["amount"],
                       "charged_on": completed_on or accepted_on}
                r = rng.random()
                if r < 0.03:
                    fee["amount"] = fs["amount"] + rng.choice((10, 20, 50))   # above standard
                elif r < 0.04:
                    fee["standard_code"] = "F-UNKNOWN"                        # no basis
                elif r < 0.045:
                    del fee["standard_code"]
                elif r < 0.08:
                    allowed = fs["allowed_reductions"]
                    fee["reduction"] = (rng.choice(allowed) if allowed and rng.random() < 0.8
                                        else rng.choice(("减收", "免收", "缓收")))
                    if fee["reduction"] in ("减收", "免收"):
                        fee["amount"] = 0.0 if fee["reduction"] == "免收" else fs["amount"] / 2
                fees.append(fee)
        elif accepted_on is not None and rng.random() < 0.002:
            fees.append({"name": "咨询费", "amount": 30.0, "charged_on": accepted_on})  # no basis

        # -- certificate (HN-ESUP-8.5)
        if completed_on is not None and kind == "正常办结" and item["issues_certificate"]:
            cert = self._certificate(item, completed_on, i)
            if cert is not None:
                c["certificate"] = cert

        # -- uploads (HN-ESUP-8.6, 8.7, 8.8)
        uploads = self._uploads(item, rec, accepted_on, completed_on, kind)

        c["corrections"] = corrections
        c["special_procedures"] = specials
        c["fees"] = fees
        c["uploads"] = uploads
        ev = None
        if completed_on is not None and not unknown and rng.random() < 0.35:
            ev = self._evaluation(c, item, completed_on, i)
        return c, ev

    def _confirm(self, notice: dict, issued: _dt.date) -> _dt.date | None:
        """Confirmation of corrected materials; None while the pause is still open (C7)."""
        rng = self.rng
        if rng.random() < 0.04:
            return None
        conf = self.wd(issued, rng.randint(1, 12))
        if not self.known(conf):
            return None
        notice["confirmed_on"] = conf
        return conf

    def _specials(self, item: dict, accepted_on: _dt.date) -> list[dict]:
        rng, wd, days = self.rng, self.wd, self.days
        out = []
        for _ in range(1 if rng.random() < 0.9 else 2):
            r = rng.random()
            if item["allowed_special_procedures"] and r < 0.9:
                k = rng.choice(item["allowed_special_procedures"])
            elif r < 0.98:
                k = rng.choice(SPECIAL_KINDS)                   # maybe not allowed (8.9)
            else:
                k = rng.choice(("现场勘查", "集体讨论"))           # not one of the nine (7.4)
            start = wd(accepted_on, rng.randint(1, 3))
            if not self.known(start):
                continue
            s = {"kind": k, "started_on": start}
            if k == "批前公示":
                ends = days(start, rng.choice((5, 7, 7, 10)))
                if rng.random() > 0.01:
                    s["publicity_ends_on"] = ends
                r = rng.random()
                done = (wd(ends, 0 if r < 0.5 else 1) if r < 0.85 else
                        wd(ends, 2) if r < 0.93 else wd(ends, rng.randint(3, 6)) if r < 0.98
                        else None)
            else:
                limit = days(start, rng.choice((10, 15, 20, 30, 45)))
                if rng.random() > 0.01:
                    s["limit_on"] = limit
                r = rng.random()
                done = (days(start, rng.randint(1, (limit - start).days - 3)) if r < 0.75 else
                        wd(limit, -1) if r < 0.82 else limit if r < 0.88 else
                        days(limit, rng.randint(1, 10)) if r < 0.97 else None)
            if done is not None and self.known(done):
                s["completed_on"] = done
            out.append(s)
        return out

    def _certificate(self, item: dict, completed_on: _dt.date, i: int) -> dict | None:
        rng, wd, days = self.rng, self.wd, self.days
        cert: dict = {"name": item.get("certificate_name", item["name"] + "证"),
                      "number": f"豫{completed_on.year}{i + 1:09d}"}
        if rng.random() < 0.05:
            cert["ministry_determined"] = True                      # 8.5b
            if rng.random() < 0.9:
                mdo = days(completed_on, rng.randint(0, 20))
                if self.known(mdo):
                    cert["ministry_determined_on"] = mdo
                    r = rng.random()
                    up = wd(mdo, rng.randint(0, 3) if r < 0.85 else rng.randint(4, 9))
                    if self.known(up) and r < 0.97:
                        cert["uploaded_on"] = up
        else:
            if rng.random() < 0.3:
                cert["ministry_determined"] = False
            r = rng.random()
            if r < 0.92:
                up = wd(completed_on, rng.randint(0, 3))
            elif r < 0.95:
                up = wd(completed_on, rng.randint(4, 6))              # warning only
            elif r < 0.98:
                up = wd(completed_on, rng.randint(7, 15))             # red card
            else:
                up = None                                             # never uploaded
            if up is None or not self.known(up):
                return cert if rng.random() < 0.5 else None
            cert["uploaded_on"] = up
        if "uploaded_on" in cert:
            r = rng.random()
            if r >= 0.005:               # below 0.005 `face_complete` stays absent: data_gap
                cert["face_complete"] = r < 0.95                      # False: 8.5c
                fix = wd(cert["uploaded_on"], rng.randint(1, 7))
                if rng.random() < 0.8 and self.known(fix):
                    cert["face_completed_on"] = fix
        return cert

    def _uploads(self, item, rec, accepted_on, completed_on, kind) -> list[dict]:
        rng, wd = self.rng, self.wd
        steps = item["steps"]
        required = [m["name"] for m in item["materials"] if m["required"]]
        optional = [m["name"] for m in item["materials"] if not m["required"]]

        def shape(when, complete=True):
            """The steps and elements of a correct upload on ``when``."""
            if completed_on is not None and when >= completed_on:
                st = list(steps) if kind == "正常办结" else list(steps[:2]) + [steps[-1]]
                el = list(ELEMENTS_ALL)
                if kind in ELEMENT_FOR and (complete or rng.random() < 0.8):
                    el.append(ELEMENT_FOR[kind])
                return st, el
            return list(steps[:2]), list(ELEMENTS_ALL)

        out = []
        points = []
        if accepted_on is not None and (completed_on is None or accepted_on < completed_on):
            if rng.random() < 0.8:
                points.append(accepted_on)
        elif accepted_on is None and rng.random() < 0.3:
            points.append(rec)
        if completed_on is not None:
            points.append(wd(completed_on, rng.choice((0, 0, 0, 1))))
        for when in points:
            if not self.known(when):
                continue
            st, el = shape(when, complete=False)
            mt = list(required) + [m for m in optional if rng.random() < 0.5]
            defect = False
            r = rng.random()
            if r < 0.02 and len(st) > 1:                               # 8.6 step name
                j = rng.randrange(1, len(st))
                st[j] = STEP_TYPOS.get(st[j], st[j] + "环节")
                defect = True
            elif r < 0.03 and len(st) > 2:                             # 8.6 missing step
                del st[rng.randrange(1, len(st) - 1)]
                defect = True
            elif r < 0.05 and required:                               # 8.8 missing material
                mt.remove(rng.choice(required))
                defect = True
            elif r < 0.06:                                            # 8.8 extra material
                mt.append(rng.choice(("无犯罪记录证明", "亲属关系证明", "社保缴纳证明")))
                defect = True
            elif r < 0.09:                                            # 8.7 missing element
                el.remove(rng.choice(ELEMENTS_ALL))
                defect = True
            out.append({"uploaded_on": when, "steps": st, "materials": mt, "elements": el})
            if defect and rng.random() < 0.7:                          # corrected later
                fix = wd(when, rng.randint(1, 6))
                if self.known(fix):
                    st2, el2 = shape(fix)
                    out.append({"uploaded_on": fix, "steps": st2, "materials": list(required),
                                "elements": el2})
        return out

    def _evaluation(self, c: dict, item: dict, completed_on: _dt.date, i: int) -> dict | None:
        rng, wd, days = self.rng, self.wd, self.days
        on = days(completed_on, rng.randint(0, 5))
        if not self.known(on):
            return None
        e: dict = {"evaluation_id": f"PJ{on.year}{i + 1:09d}", "case_id": c["case_id"]}
        if rng.random() < 0.98:
            e["item_code"] = c["item_code"]
        if "department" in c:
            e["department"] = c["department"]
        e["evaluated_on"] = on
        abnormal = False
        r = rng.random()
        if r < 0.03:
            e["satisfaction"] = "不满意"
            if rng.random() < 0.8:
                e["satisfaction_reason"] = rng.choice(REASONS)
                abnormal = True
            elif rng.random() < 0.5:
                e["satisfaction_reason"] = "  "
        elif r < 0.5:
            e["satisfaction"] = "满意"
        for f, p in (("extra_materials", 0.012), ("overcharged", 0.01),
                     ("forced_intermediary", 0.01)):
            x = rng.random()
            if x < p:
                e[f] = True
                abnormal = True
            elif x < 0.3:
                e[f] = False
        x = rng.random()
        if x < 0.02:
            e["time_limit"] = rng.choice(("超过承诺时限", "超过法定时限"))
            abnormal = True
        elif x < 0.4:
            e["time_limit"] = "未超过时限"
        if rng.random() < 0.5:
            pv = item["promised_visits"]
            e["window_visits"] = (rng.randint(0, pv) if rng.random() < 0.95
                                  else pv + rng.randint(1, 2))
            abnormal = abnormal or e["window_visits"] > item["promised_visits"]
        x = rng.random()
        if x < 0.015:
            e["attitude"] = "态度差"
            e["attitude_reason"] = rng.choice(REASONS)
            abnormal = True
        elif x < 0.3:
            e["attitude"] = "态度好"
        x = rng.random()
        if x < 0.01:
            e["environment"] = "环境差"
            e["environment_reason"] = "大厅拥挤，座位不够"
            abnormal = True
        elif x < 0.3:
            e["environment"] = "环境好"
        if rng.random() < 0.02:
            e["other_problem"] = rng.choice(OTHER_PROBLEMS)
        if abnormal and rng.random() < 0.3:
            x = rng.random()
            filed = wd(on, rng.randint(1, 10) if x < 0.85 else rng.randint(11, 20))  # 9.10a
            if self.known(filed):
                e["appeal"] = {"filed_on": filed, "staff": "窗口工作人员",
                               "reason": "已按规定办理，申请人误解"}
                x = rng.random()
                if x < 0.6:
                    se_on = wd(filed, rng.randint(0, 10))
                elif x < 0.7:
                    se_on = wd(filed, rng.randint(11, 15))             # too late (9.10b)
                else:
                    se_on = None                                       # none (9.10b)
                if se_on is not None and self.known(se_on):
                    se = {"evaluated_on": se_on}
                    se["satisfaction"] = "满意" if rng.random() < 0.7 else "不满意"
                    if se["satisfaction"] == "不满意":
                        se["satisfaction_reason"] = rng.choice(REASONS)
                    if rng.random() < 0.2:
                        se["window_visits"] = rng.choice((0, 1, 2))
                    if rng.random() < 0.1:
                        se["overcharged"] = rng.random() < 0.5
                    e["second_evaluation"] = se
        return e


# ------------------------------------------------------------------------------------ malformed

_MALFORMED_KINDS = ("json", "missing", "type", "date")


def _malform(rng: random.Random, rec: dict, kind: str, coll: str) -> str:
    """A deliberately invalid JSONL line made from a valid record."""
    if kind == "json":
        text = _dumps(rec)
        return text[: max(1, len(text) // 2)]                     # truncated line
    bad = dict(rec)
    if kind == "missing":
        bad.pop("received_on" if coll == "cases" else "evaluated_on", None)
    elif kind == "type":
        if coll == "cases":
            bad["promised_days"] = "五"
        else:
            bad["window_visits"] = "两次"
    else:
        bad["received_on" if coll == "cases" else "evaluated_on"] = "2024-02-30"
    return _dumps(bad)


def _default(o):
    if isinstance(o, _dt.date):
        return o.isoformat()
    raise TypeError(type(o))


def _dumps(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":"), default=_default)


def iter_records(n_cases: int, seed: int, items: list[dict] | None = None,
                 malformed_rate: float = 0.0005) -> Iterator[tuple[str, object, bool]]:
    """Yield ``(collection, record, malformed)`` in generation order: ``record`` is a dict with
    ``datetime.date`` values, or — when ``malformed`` — the raw (invalid) JSONL text."""
    items = items if items is not None else make_items(seed)
    g = _Gen(seed, n_cases, items)
    mrng = random.Random(f"malformed-{seed}")
    for i in range(n_cases):
        c, ev = g.case(i)
        if mrng.random() < malformed_rate:
            yield "cases", _malform(mrng, c, mrng.choice(_MALFORMED_KINDS), "cases"), True
        else:
            yield "cases", c, False
        if ev is not None:
            if mrng.random() < malformed_rate:
                yield "evaluations", _malform(mrng, ev, mrng.choice(_MALFORMED_KINDS),
                                              "evaluations"), True
            else:
                yield "evaluations", ev, False


def generate(out: str | os.PathLike, n_cases: int, seed: int,
             malformed_rate: float = 0.0005, progress: bool = False) -> dict:
    """Write items.json, cases.jsonl, evaluations.jsonl and manifest.json under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = make_items(seed)
    (out / "items.json").write_text(
        json.dumps([public_item(x) for x in items], ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8")
    counts = {"cases": 0, "evaluations": 0}
    bad: dict[str, list[int]] = {"cases": [], "evaluations": []}
    t0 = time.perf_counter()
    with open(out / "cases.jsonl", "w", encoding="utf-8", buffering=1 << 20) as fc, \
            open(out / "evaluations.jsonl", "w", encoding="utf-8", buffering=1 << 20) as fe:
        files = {"cases": fc, "evaluations": fe}
        for coll, rec, malformed in iter_records(n_cases, seed, items, malformed_rate):
            counts[coll] += 1
            if malformed:
                bad[coll].append(counts[coll])   # 1-based line number
                files[coll].write(rec + "\n")
            else:
                files[coll].write(_dumps(rec) + "\n")
            if progress and coll == "cases" and counts["cases"] % 100000 == 0:
                print(f"  {counts['cases']:>9,} cases  {time.perf_counter() - t0:6.1f}s",
                      file=sys.stderr)
    manifest = {"seed": seed, "cases": n_cases, "items": len(items),
                "evaluations": counts["evaluations"], "as_of": AS_OF.isoformat(),
                "malformed_rate": malformed_rate,
                "malformed_lines": bad, "seconds": round(time.perf_counter() - t0, 1)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10000, help="number of cases (default 10000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--malformed-rate", type=float, default=0.0005,
                    help="fraction of deliberately malformed lines (default 0.0005)")
    a = ap.parse_args(argv)
    m = generate(a.out, a.cases, a.seed, a.malformed_rate, progress=True)
    print(f"{a.out}: {m['items']} items, {m['cases']:,} cases, {m['evaluations']:,} evaluations, "
          f"{sum(len(v) for v in m['malformed_lines'].values())} malformed lines "
          f"({m['seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

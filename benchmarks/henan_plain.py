"""A hand-written plain-Python implementation of the HN-ESUP rules — the benchmark baseline.

It encodes ``policies/henan/rules/*.rule`` by hand (no DSL, no generated code), reading the
parameter values from the bundle's ``Param`` objects (in force from their dates, RULEBOOK C9) and
counting working days with ``govsup.engine.calendar``. It must produce the same findings as the
engine — rule, key, level, triggered_on, status, resolved_on (tests/bench checks this on generated
data and on examples/henan) — and it builds each finding as a plain dict with the same fields the
engine reports except ``values`` (the engine's explanation of every binding) and ``provisional``.

Input: records already validated and typed (dates as ``datetime.date``), as ``Program.read_facts``
gives them. Output: a sorted list of finding dicts.

    from benchmarks.henan_plain import PlainHenan
    findings = PlainHenan().evaluate(items, cases, evaluations, as_of)
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable

from govsup.engine.bundle import load_bundle
from govsup.engine.calendar import load_calendar, shipped_calendar_dir

ONE = _dt.timedelta(days=1)
_MISSING = "（缺失）"

# rule id -> (clauses, levels); must match the `cites` and `level` lines of the bundle's rules
RULES = {
    "HN-ESUP-3": (("HN-ESUP-3",), ("data_gap",)),
    "HN-ESUP-7.2": (("HN-ESUP-7.2",), ("violation",)),
    "HN-ESUP-7.4": (("HN-ESUP-7.4",), ("violation",)),
    "HN-ESUP-8.10-warning": (("HN-ESUP-8.10",), ("warning",)),
    "HN-ESUP-8.10-red": (("HN-ESUP-8.10", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.1a": (("HN-ESUP-8.1a", "HN-ESUP-8.1b", "HN-ESUP-8.2c"), ("warning",)),
    "HN-ESUP-8.1b": (("HN-ESUP-8.1b", "HN-ESUP-8.2c", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.1b-pause": (("HN-ESUP-8.1b", "HN-ESUP-7.4"), ("notice",)),
    "HN-ESUP-8.2a": (("HN-ESUP-8.2a",), ("warning", "manual_review")),
    "HN-ESUP-8.2b": (("HN-ESUP-8.2b",), ("warning", "manual_review")),
    "HN-ESUP-8.2c": (("HN-ESUP-8.2c",), ("notice",)),
    "HN-ESUP-8.3a-warning": (("HN-ESUP-8.3a",), ("warning",)),
    "HN-ESUP-8.3a-red": (("HN-ESUP-8.3a", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.3b-warning": (("HN-ESUP-8.3b",), ("warning",)),
    "HN-ESUP-8.3b-red": (("HN-ESUP-8.3b", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.4": (("HN-ESUP-8.4", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.5a-warning": (("HN-ESUP-8.5a",), ("warning",)),
    "HN-ESUP-8.5a-red": (("HN-ESUP-8.5a", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.5b": (("HN-ESUP-8.5b", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.5c-warning": (("HN-ESUP-8.5c",), ("warning",)),
    "HN-ESUP-8.5c-red": (("HN-ESUP-8.5c", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.6-warning": (("HN-ESUP-8.6",), ("warning",)),
    "HN-ESUP-8.6-red": (("HN-ESUP-8.6", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.7-warning": (("HN-ESUP-8.7",), ("warning",)),
    "HN-ESUP-8.7-red": (("HN-ESUP-8.7", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.8-warning": (("HN-ESUP-8.8",), ("warning",)),
    "HN-ESUP-8.8-red": (("HN-ESUP-8.8", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-8.9": (("HN-ESUP-8.9", "HN-ESUP-11"), ("red_card",)),
    "HN-ESUP-9.1": (("HN-ESUP-9.1", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.2": (("HN-ESUP-9.2", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.3": (("HN-ESUP-9.3", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.4": (("HN-ESUP-9.4", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.5": (("HN-ESUP-9.5", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.6": (("HN-ESUP-9.6", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.7": (("HN-ESUP-9.7", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.8": (("HN-ESUP-9.8", "HN-ESUP-9.10b"), ("abnormal",)),
    "HN-ESUP-9.9": (("HN-ESUP-9.9",), ("manual_review",)),
    "HN-ESUP-9.10a": (("HN-ESUP-9.10a",), ("violation",)),
    "HN-ESUP-9.10b": (("HN-ESUP-9.10b",), ("manual_review",)),
}


def _t(v) -> str:
    """Text of a value in a message (as the DSL's templates show it)."""
    if v is None:
        return _MISSING
    if v is True:
        return "是"
    if v is False:
        return "否"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _blank(t) -> bool:
    return t is None or (isinstance(t, str) and not t.strip())


class _Gap(Exception):
    """A value could not be computed (the engine reports a data_gap ``无法计算``)."""


class PlainHenan:
    """The HN-ESUP rules of the ``henan`` bundle, by hand."""

    def __init__(self, bundle: str = "henan", calendar=None):
        b = load_bundle(bundle)
        self.params = dict(b.params)
        self.levels = {k: (lv.name, lv.severity) for k, lv in b.levels.items()}
        self.origin = {rid: b.rule_origin.get(rid, b.name) for rid in RULES}
        self.cal = calendar or load_calendar(list(b.calendar_dirs) or [shipped_calendar_dir()])
        self._pcache: dict = {}
        # 施行日期: a rule applies from its first cited clause's date on; every HN-ESUP rule's
        # first clause belongs to the one document (2019-03-21), so one date stands for all
        dates = {b.clauses[clauses[0]].in_force_from for clauses, _ in RULES.values()}
        if len(dates) != 1:
            raise ValueError(f"the baseline assumes one 施行日期 for every rule, not {dates}")
        self.in_force_from = dates.pop()

    def params_on(self, d: _dt.date) -> dict:
        """name -> value in force on ``d`` (names not in force are absent)."""
        p = self._pcache.get(d)
        if p is None:
            p = {}
            for name, prm in self.params.items():
                v = prm.value_on(d)
                if v is not None:
                    p[name] = v
            self._pcache[d] = p
        return p

    # ------------------------------------------------------------------------------ evaluate
    def evaluate(self, items: Iterable[dict], cases: Iterable[dict],
                 evaluations: Iterable[dict], as_of: _dt.date) -> list[dict]:
        out: list[dict] = []
        levels = self.levels
        origin = self.origin

        def emit(rule, coll, key, on, resolved, message, level_keys=None):
            if on > as_of:
                return
            if resolved is not None and resolved > as_of:
                resolved = None
            clauses, lvs = RULES[rule]
            for lk in level_keys or lvs:
                name, sev = levels[lk]
                out.append({"rule": rule, "clauses": list(clauses), "level": lk,
                            "level_name": name, "severity": sev, "collection": coll,
                            "key": key, "triggered_on": on,
                            "status": "resolved" if resolved is not None else "open",
                            "resolved_on": resolved, "message": message,
                            "bundle": origin[rule]})

        index = {}
        for it in items:
            k = it.get("item_code")
            if k is not None and k not in index:
                index[k] = it
        for c in cases:
            self._case(c, index, as_of, emit)
        for e in evaluations:
            self._evaluation(e, index, as_of, emit)
        out.sort(key=lambda f: (f["triggered_on"], f["rule"], f["key"], -f["severity"],
                                f["level"], f["message"]))
        return out

    # ------------------------------------------------------------------------------ cases
    def _case(self, c: dict, index: dict, as_of, emit) -> None:
        cal = self.cal
        add = cal.add_workdays
        cid = str(c["case_id"])
        rec = c["received_on"]
        if self.in_force_from is not None and rec < self.in_force_from:
            return
        P = self.params_on(rec)
        dept = c.get("department")
        dept_t = dept if dept is not None else "部门未注明"
        item = index.get(c["item_code"])
        kind = c.get("completion_kind")
        kind_s = kind if kind is not None else ""
        accepted = c.get("accepted_on")
        completed = c.get("completed_on")
        cert = c.get("certificate")
        corrections = c["corrections"]
        specials = c["special_procedures"]
        uploads = c["uploads"]

        def gap(rule, key, what, message=None):
            title = message
            emit(rule, "cases", key, rec, None, f"{title}：缺少数据：{what}", ("data_gap",))

        # HN-ESUP-3 -- the case's item is not in the catalogue
        if item is None:
            emit("HN-ESUP-3", "cases", cid, rec, None,
                 f"办件{cid}的事项编码{c['item_code']}不在事项目录中，依据事项目录的监察无法进行；"
                 f"办件监察须全覆盖，请补录事项或更正编码")

        # HN-ESUP-7.2 -- promised limit above the legal limit
        if accepted is not None:
            legal = c.get("legal_days")
            promised = c.get("promised_days")
            if legal is None:
                gap("HN-ESUP-7.2", cid, "c.legal_days", "承诺时限超过法定时限")
            elif promised is None:
                gap("HN-ESUP-7.2", cid, "c.promised_days", "承诺时限超过法定时限")
            elif promised > legal:
                emit("HN-ESUP-7.2", "cases", cid, accepted, None,
                     f"办件{cid}的承诺时限{promised}个工作日超过法定时限{legal}个工作日，承诺时限应在法定时限内")

        # HN-ESUP-8.10 -- acceptance opinion within 2 working days of receipt, then 3 more
        channels = P.get("acceptance_opinion_channels")
        if channels is not None and c["channel"] in channels:
            ao = c.get("acceptance_opinion_on")
            opinion_on = (ao if accepted is None else accepted if ao is None else min(ao, accepted))
            days = P.get("acceptance_opinion_days")
            if days is not None:
                due = add(rec, days)
                if opinion_on is None or opinion_on > due:
                    emit("HN-ESUP-8.10-warning", "cases", cid, due + ONE, opinion_on,
                         f"办件{cid}于{rec}收件（{c['channel']}），{days}个工作日内（{due}）未给出受理意见")
                esc = P.get("acceptance_opinion_escalation_days")
                if esc is not None:
                    warned = due + ONE
                    due2 = add(warned, esc)
                    if opinion_on is None or opinion_on > due2:
                        emit("HN-ESUP-8.10-red", "cases", cid, due2 + ONE, opinion_on,
                             f"办件{cid}（{dept_t}）受理意见预警（{warned}）发出后{esc}个工作日内（{due2}）仍未给出受理意见")

        # HN-ESUP-8.1a / 8.1b -- time limit with correction and special-procedure pauses
        if kind_s != "不予受理" and (accepted is not None or completed is not None):
            self._time_limit(c, cid, rec, P, accepted, completed, dept_t, as_of, emit, gap)

        # HN-ESUP-8.2a / 8.2c -- each correction notice
        notice_days = P.get("correction_notice_days")
        for j, n in enumerate(corrections):
            key = f"{cid}/n[{j}]"
            issued = n["issued_on"]
            if notice_days is not None:
                sub = n.get("submission_on")
                mat_on = sub if sub is not None else rec
                due = add(mat_on, notice_days)
                if issued > due:
                    emit("HN-ESUP-8.2a", "cases", key, issued, None,
                         f"办件{cid}的补正告知书于{issued}发出，晚于材料收到日{mat_on}后{notice_days}个工作日（{due}），视为异常，启动人工监察")
            conf = n.get("confirmed_on")
            emit("HN-ESUP-8.2c", "cases", key, issued, conf,
                 f"办件{cid}已于{issued}发出补正告知，时限监察暂停，待补正材料经审批部门确认无误后继续（确认日：{conf if conf is not None else '尚未确认'}）")

        # HN-ESUP-8.2b -- a later notice asking for materials the first did not list
        if corrections:
            notices = sorted(corrections, key=lambda x: x["issued_on"])
            first = notices[0]
            f_on = first["issued_on"]
            f_mats = first["materials"]
            for j, n in enumerate(notices):
                if n["issued_on"] > f_on:
                    new = [m for m in n["materials"] if m not in f_mats]
                    if new:
                        emit("HN-ESUP-8.2b", "cases", f"{cid}/n[{j}]", n["issued_on"], None,
                             f"办件{cid}于{n['issued_on']}再次发出补正告知，所涉材料“{new[0]}”等{len(new)}项不在第一次补正告知书（{f_on}）中，视为异常，启动人工监察")

        # HN-ESUP-7.4, 8.1b-pause, 8.3a, 8.3b, 8.9 -- each special procedure
        if specials:
            self._specials(c, cid, rec, P, item, specials, dept_t, emit)

        # HN-ESUP-8.4 -- fees
        for j, f in enumerate(c["fees"]):
            key = f"{cid}/f[{j}]"
            if item is None:
                emit("HN-ESUP-8.4", "cases", key, rec, None,
                     "收费（税）及减免（缓）不符合规定（红牌）：缺少数据：item", ("data_gap",))
                continue
            code = f.get("standard_code")
            std = None
            for s in item["fee_standards"]:
                if s["code"] == code:
                    std = s
                    break
            red = f.get("reduction")
            if std is None:
                problem = "无依据收费（税）"
            elif f["amount"] > std["amount"]:
                problem = "超出收费标准收费（标准" + _t(std["amount"]) + "元）"
            elif red is not None and red not in std["allowed_reductions"]:
                problem = "收费标准不允许" + red
            else:
                continue
            emit("HN-ESUP-8.4", "cases", key, f["charged_on"], None,
                 f"办件{cid}（{dept_t}）于{f['charged_on']}收费{_t(f['amount'])}元（收费标准编码：{code if code is not None else '未注明'}）：{problem}")

        # HN-ESUP-8.5a / 8.5b / 8.5c -- certificates
        self._certificates(c, cid, rec, P, item, kind_s, completed, cert, dept_t, emit, gap)

        # HN-ESUP-8.6 / 8.7 / 8.8 -- uploaded data
        self._uploads(cid, rec, P, item, kind_s, accepted, completed, uploads, dept_t, emit, gap)

    def _time_limit(self, c, cid, rec, P, accepted, completed, dept_t, as_of, emit, gap):
        for rule in ("HN-ESUP-8.1a", "HN-ESUP-8.1b"):
            title = "业务办理所剩时限预警" if rule == "HN-ESUP-8.1a" else "超过承诺时限办结（红牌）"
            promised = c.get("promised_days")
            if accepted is None:
                gap(rule, cid, "c.accepted_on", title)
                continue
            if promised is None:
                gap(rule, cid, "c.promised_days", title)
                continue
            clock = P.get("special_procedures_pause_clock")
            if clock is None:
                continue                                  # not in force
            cp = [(n["issued_on"], _end(n.get("confirmed_on"), as_of)) for n in c["corrections"]]
            # only the nine special procedures (HN-ESUP-7.4) pause the clock
            kinds = P.get("special_procedure_kinds")
            pp = ([(s["started_on"], _end(s.get("completed_on"), as_of))
                   for s in c["special_procedures"] if s["kind"] in kinds] if clock else [])
            pauses = cp + pp  # overlapping pauses count once (C7)
            try:
                limit = self.cal.deadline(accepted, promised, pauses)
            except Exception as exc:
                emit(rule, "cases", cid, rec, None, f"{title}：无法计算：{exc}", ("data_gap",))
                continue
            if rule == "HN-ESUP-8.1a":
                k = P.get("countdown_warning_days")
                if k is None:
                    continue
                warn_on = self.cal.countdown_on(accepted, promised, k, pauses)
                if warn_on is None or not (completed is None or completed >= warn_on):
                    continue
                lt = str(limit) if limit is not None else "因暂停未定"
                emit(rule, "cases", cid, warn_on, completed,
                     f"办件{cid}所剩承诺时限已不超过{k}个工作日（承诺期限{lt}），请及时办理；省政务服务统一工作门户同步发出系统消息提醒")
            else:
                if limit is None or not (completed is None or completed > limit):
                    continue
                done = str(completed) if completed is not None else "尚未办结"
                emit(rule, "cases", cid, limit + ONE, completed,
                     f"办件{cid}（{dept_t}）超过承诺时限：受理日{accepted}，承诺{promised}个工作日，期限{limit}，办结日{done}")

    def _specials(self, c, cid, rec, P, item, specials, dept_t, emit):
        add = self.cal.add_workdays
        sub = self.cal.sub_workdays
        kinds = P.get("special_procedure_kinds")
        clock = P.get("special_procedures_pause_clock")
        pk = P.get("publicity_procedure_kind")
        for j, s in enumerate(specials):
            key = f"{cid}/s[{j}]"
            kind = s["kind"]
            start = s["started_on"]
            done = s.get("completed_on")
            if kinds is not None and kind not in kinds:
                emit("HN-ESUP-7.4", "cases", key, start, None,
                     f"办件{cid}于{start}开始的特别程序“{kind}”不属于第七条（四）规定的{len(kinds)}项特别程序")
            if clock and kinds is not None and kind in kinds:
                emit("HN-ESUP-8.1b-pause", "cases", key, start, done,
                     f"办件{cid}自{start}起实施特别程序“{kind}”，所需时间不计入承诺时限（行政许可法第四十五条），时限监察暂停（完成日：{done if done is not None else '尚未完成'}）")
            if pk is not None:
                if kind == pk:
                    ends = s.get("publicity_ends_on")
                    for rule, pname, title in (
                            ("HN-ESUP-8.3a-warning", "publicity_warning_days",
                             "批前公示到期后未及时完成（预警）"),
                            ("HN-ESUP-8.3a-red", "publicity_red_card_days",
                             "批前公示到期后未完成（红牌）")):
                        if ends is None:
                            emit(rule, "cases", key, rec, None,
                                 f"{title}：缺少数据：s.publicity_ends_on", ("data_gap",))
                            continue
                        n = P.get(pname)
                        if n is None:
                            continue
                        due = add(ends, n)
                        if done is None or done > due:
                            if rule == "HN-ESUP-8.3a-warning":
                                msg = f"办件{cid}的批前公示期于{ends}到期，到期后{n}个工作日内（{due}）未完成公示程序"
                            else:
                                msg = f"办件{cid}（{dept_t}）的批前公示期于{ends}到期，到期后{n}个工作日内（{due}）仍未完成公示程序"
                            emit(rule, "cases", key, due + ONE, done, msg)
                else:
                    limit = s.get("limit_on")
                    if limit is None:
                        emit("HN-ESUP-8.3b-warning", "cases", key, rec, None,
                             "特别程序临近法定约定时限未完成（预警）：缺少数据：s.limit_on", ("data_gap",))
                    else:
                        k = P.get("special_procedure_countdown_days")
                        if k is not None:
                            w = sub(limit, k)
                            warn_on = start if start > w else w
                            if done is None or done >= warn_on:
                                emit("HN-ESUP-8.3b-warning", "cases", key, warn_on, done,
                                     f"办件{cid}的特别程序“{kind}”法定约定时限{limit}结束前{k}个工作日仍未完成")
                    if limit is None:
                        emit("HN-ESUP-8.3b-red", "cases", key, rec, None,
                             "特别程序超出法定约定时限未完成（红牌）：缺少数据：s.limit_on", ("data_gap",))
                    elif done is None or done > limit:
                        emit("HN-ESUP-8.3b-red", "cases", key, limit + ONE, done,
                             f"办件{cid}（{dept_t}）的特别程序“{kind}”超出法定约定时限{limit}未完成（完成日：{done if done is not None else '尚未完成'}）")
            if item is None:
                emit("HN-ESUP-8.9", "cases", key, rec, None,
                     "出现事项流程不允许的特别程序（红牌）：缺少数据：item", ("data_gap",))
            elif kind not in item["allowed_special_procedures"]:
                emit("HN-ESUP-8.9", "cases", key, start, None,
                     f"办件{cid}（{dept_t}）实施了事项“{item['name']}”办理流程不允许的特别程序“{kind}”（开始日{start}）")

    def _certificates(self, c, cid, rec, P, item, kind_s, completed, cert, dept_t, emit, gap):
        add = self.cal.add_workdays
        ministry = cert is not None and bool(cert.get("ministry_determined") or False)
        if kind_s == "正常办结":
            for rule, title in (("HN-ESUP-8.5a-warning", "办结后未按时上传证照（预警）"),
                                ("HN-ESUP-8.5a-red", "预警后仍未上传证照（红牌）")):
                if item is None:
                    gap(rule, cid, "item", title)
                    continue
                if not item["issues_certificate"] or ministry:
                    continue
                if completed is None:
                    gap(rule, cid, "c.completed_on", title)
                    continue
                n = P.get("certificate_upload_days")
                if n is None:
                    continue
                due = add(completed, n)
                up = cert.get("uploaded_on") if cert is not None else None
                if rule == "HN-ESUP-8.5a-warning":
                    if up is None or up > due:
                        emit(rule, "cases", cid, due + ONE, up,
                             f"办件{cid}于{completed}办结，办结后{n}个工作日内（{due}）未上传证照至省电子证照库")
                else:
                    esc = P.get("certificate_escalation_days")
                    if esc is None:
                        continue
                    warned = due + ONE
                    due2 = add(warned, esc)
                    if up is None or up > due2:
                        emit(rule, "cases", cid, due2 + ONE, up,
                             f"办件{cid}（{dept_t}）证照未上传预警（{warned}）发出后{esc}个工作日内（{due2}）仍未上传")
        if cert is None:
            return
        up = cert.get("uploaded_on")
        if ministry:
            mdo = cert.get("ministry_determined_on")
            n = P.get("ministry_certificate_upload_days")
            if mdo is not None and n is not None:
                due = add(mdo, n)
                if up is None or up > due:
                    emit("HN-ESUP-8.5b", "cases", cid, due + ONE, up,
                         f"办件{cid}（{dept_t}）的证照信息于{mdo}由国家部委确定，{n}个工作日内（{due}）未上传")
        if up is not None:
            fc = cert.get("face_complete")
            if fc is None:
                gap("HN-ESUP-8.5c-warning", cid, "c.certificate.face_complete",
                    "证照照面信息不完整（预警）")
                gap("HN-ESUP-8.5c-red", cid, "c.certificate.face_complete",
                    "照面信息预警后未补充完整（红牌）")
            elif not fc:
                fixed = cert.get("face_completed_on")
                emit("HN-ESUP-8.5c-warning", "cases", cid, up, fixed,
                     f"办件{cid}于{up}上传的证照照面信息不完整")
                n = P.get("face_info_escalation_days")
                if n is not None:
                    due = add(up, n)
                    if fixed is None or fixed > due:
                        emit("HN-ESUP-8.5c-red", "cases", cid, due + ONE, fixed,
                             f"办件{cid}（{dept_t}）证照照面信息不完整预警（{up}）发出后{n}个工作日内（{due}）未补充完整")

    def _uploads(self, cid, rec, P, item, kind_s, accepted, completed, uploads, dept_t, emit,
                 gap):
        add = self.cal.add_workdays
        if not uploads:
            return
        ups = sorted(uploads, key=lambda u: u["uploaded_on"])

        def first_bad(is_bad):
            flags = [is_bad(u) for u in ups]
            for b, u in zip(flags, ups):
                if b:
                    bad_on = u["uploaded_on"]
                    for b2, u2 in zip(flags, ups):
                        if not b2 and u2["uploaded_on"] > bad_on:
                            return u, u2["uploaded_on"]
                    return u, None
            return None, None

        # 8.6 -- step names against the registered steps
        if item is None:
            gap("HN-ESUP-8.6-warning", cid, "item", "上传环节与登记环节不一致（预警）")
            gap("HN-ESUP-8.6-red", cid, "item", "预警后未补齐流程环节（红牌）")
        else:
            steps = item["steps"]
            final_check = kind_s == "正常办结" and completed is not None

            def bad_steps(u):
                us = u["steps"]
                for s in us:
                    if s not in steps:
                        return True
                if final_check and u["uploaded_on"] >= completed:
                    for s in steps:
                        if s not in us:
                            return True
                return False

            bad, fixed_on = first_bad(bad_steps)
            if bad is not None:
                bon = bad["uploaded_on"]
                unreg = [s for s in bad["steps"] if s not in steps]
                absent = [s for s in steps if s not in bad["steps"]]
                emit("HN-ESUP-8.6-warning", "cases", cid, bon, fixed_on,
                     f"办件{cid}于{bon}上传的办理环节与事项“{item['name']}”登记的环节不一致：未登记环节{len(unreg)}个"
                     f"（如“{unreg[0] if unreg else '无'}”），缺少登记环节{len(absent)}个（如“{absent[0] if absent else '无'}”）")
                n = P.get("step_escalation_days")
                if n is not None:
                    due = add(bon, n)
                    if fixed_on is None or fixed_on > due:
                        emit("HN-ESUP-8.6-red", "cases", cid, due + ONE, fixed_on,
                             f"办件{cid}（{dept_t}）流程环节不一致预警（{bon}）发出后{n}个工作日内（{due}）未补齐流程环节信息")

        # 8.7 -- info elements (parameter info_elements)
        elements = P.get("info_elements")
        if elements is not None:
            def needed(on):
                return [e["element"] for e in elements
                        if e["applies_to"] == "全部" or (e["applies_to"] == kind_s
                                                         and completed is not None
                                                         and on >= completed)]

            def bad_elements(u):
                have = u["elements"]
                for e in needed(u["uploaded_on"]):
                    if e not in have:
                        return True
                return False

            bad, fixed_on = first_bad(bad_elements)
            if bad is not None:
                bon = bad["uploaded_on"]
                miss = [e for e in needed(bon) if e not in bad["elements"]]
                emit("HN-ESUP-8.7-warning", "cases", cid, bon, fixed_on,
                     f"办件{cid}于{bon}上传的办件数据缺少要素“{miss[0]}”等{len(miss)}项")
                n = P.get("info_escalation_days")
                if n is not None:
                    due = add(bon, n)
                    if fixed_on is None or fixed_on > due:
                        emit("HN-ESUP-8.7-red", "cases", cid, due + ONE, fixed_on,
                             f"办件{cid}（{dept_t}）要素信息不完整预警（{bon}）发出后{n}个工作日内（{due}）未补齐相关要素")

        # 8.8 -- materials against the item's list
        if item is None:
            gap("HN-ESUP-8.8-warning", cid, "item", "上传申请材料缺少必要材料或超出规定范围（预警）")
            gap("HN-ESUP-8.8-red", cid, "item", "预警后未重新上传申请材料列表（红牌）")
            return
        allowed = [m["name"] for m in item["materials"]]
        needed_m = [m["name"] for m in item["materials"] if m["required"]]

        def bad_materials(u):
            um = u["materials"]
            for m in um:
                if m not in allowed:
                    return True
            if accepted is not None and u["uploaded_on"] >= accepted:
                for m in needed_m:
                    if m not in um:
                        return True
            return False

        bad, fixed_on = first_bad(bad_materials)
        if bad is not None:
            bon = bad["uploaded_on"]
            extra = [m for m in bad["materials"] if m not in allowed]
            lacking = [m for m in needed_m if m not in bad["materials"]]
            emit("HN-ESUP-8.8-warning", "cases", cid, bon, fixed_on,
                 f"办件{cid}于{bon}上传的申请材料列表异常：超出规定范围{len(extra)}项（如“{extra[0] if extra else '无'}”），"
                 f"缺少必要材料{len(lacking)}项（如“{lacking[0] if lacking else '无'}”）")
            n = P.get("materials_escalation_days")
            if n is not None:
                due = add(bon, n)
                if fixed_on is None or fixed_on > due:
                    emit("HN-ESUP-8.8-red", "cases", cid, due + ONE, fixed_on,
                         f"办件{cid}（{dept_t}）申请材料异常预警（{bon}）发出后{n}个工作日内（{due}）未重新上传申请材料列表")

    # ------------------------------------------------------------------------------ evaluations
    def _evaluation(self, e: dict, index: dict, as_of, emit) -> None:
        add = self.cal.add_workdays
        eid = str(e["evaluation_id"])
        on = e["evaluated_on"]
        if self.in_force_from is not None and on < self.in_force_from:
            return
        P = self.params_on(on)
        head = f"评价{eid}（办件{e['case_id']}）"
        appeal = e.get("appeal")
        second_ev = e.get("second_evaluation")
        win = P.get("appeal_window_days")
        win2 = P.get("second_evaluation_window_days")

        def regrade():
            """The second evaluation that counts (9.10b), or None."""
            if appeal is None or second_ev is None:
                return None
            filed = appeal["filed_on"]
            s_on = second_ev["evaluated_on"]
            if filed <= add(on, win) and s_on >= filed and s_on <= add(filed, win2):
                return second_ev
            return None

        def abnormal(rule, still_abnormal, message):
            second = regrade()
            res = (second["evaluated_on"] if second is not None and not still_abnormal(second)
                   else None)
            emit(rule, "evaluations", eid, on, res, message)

        def dissatisfied(x):
            return (x.get("satisfaction") or "满意") == "不满意" and not _blank(x.get("satisfaction_reason"))

        if win is not None:  # every abnormal rule computes the appeal window
            if dissatisfied(e):
                abnormal("HN-ESUP-9.1", dissatisfied,
                         f"{head}：申请人评价“不满意”，理由：{e['satisfaction_reason']}，纳入异常办件")
            if e.get("extra_materials") or False:
                abnormal("HN-ESUP-9.2", lambda x: x.get("extra_materials") or False,
                         f"{head}：申请人评价被多收取申请材料，纳入异常办件")
            if e.get("overcharged") or False:
                abnormal("HN-ESUP-9.3", lambda x: x.get("overcharged") or False,
                         f"{head}：申请人评价被多收费，纳入异常办件")
        item = None
        if e.get("forced_intermediary") or False:
            if e.get("item_code") is None:
                emit("HN-ESUP-9.4", "evaluations", eid, on, None,
                     "法定不涉及中介的事项被强制要求通过中介办理：缺少数据：e.item_code", ("data_gap",))
            else:
                item = index.get(e["item_code"])
                if item is None:
                    emit("HN-ESUP-9.4", "evaluations", eid, on, None,
                         "法定不涉及中介的事项被强制要求通过中介办理：缺少数据：item", ("data_gap",))
                elif not item["intermediary_by_law"] and win is not None:
                    abnormal("HN-ESUP-9.4", lambda x: x.get("forced_intermediary") or False,
                             f"{head}：法定不涉及中介的事项“{item['name']}”，申请人评价被强制要求通过中介办理，纳入异常办件")
        answers = P.get("time_limit_abnormal_answers")
        if answers is not None and win is not None:
            tl = e.get("time_limit")
            if (tl if tl is not None else "未超过时限") in answers:
                abnormal("HN-ESUP-9.5",
                         lambda x: (x.get("time_limit") or "未超过时限") in answers,
                         f"{head}：申请人评价办理时限：{_t(tl)}，纳入异常办件")
        visits = e.get("window_visits")
        if visits is not None:
            if e.get("item_code") is None:
                emit("HN-ESUP-9.6", "evaluations", eid, on, None,
                     "窗口跑动次数超过承诺次数：缺少数据：e.item_code", ("data_gap",))
            else:
                item = index.get(e["item_code"])
                if item is None:
                    emit("HN-ESUP-9.6", "evaluations", eid, on, None,
                         "窗口跑动次数超过承诺次数：缺少数据：item", ("data_gap",))
                elif visits > item["promised_visits"] and win is not None:
                    pv = item["promised_visits"]
                    abnormal("HN-ESUP-9.6",
                             lambda x: x.get("window_visits") is not None and x["window_visits"] > pv,
                             f"{head}：申请人评价符合受理条件后窗口跑动{visits}次，超过事项“{item['name']}”承诺的{pv}次，纳入异常办件")
        if win is not None:
            if (e.get("attitude") or "态度好") == "态度差" and not _blank(e.get("attitude_reason")):
                abnormal("HN-ESUP-9.7",
                         lambda x: (x.get("attitude") or "态度好") == "态度差" and not _blank(x.get("attitude_reason")),
                         f"{head}：申请人评价服务“态度差”，理由：{e['attitude_reason']}，纳入异常办件")
            if (e.get("environment") or "环境好") == "环境差" and not _blank(e.get("environment_reason")):
                abnormal("HN-ESUP-9.8",
                         lambda x: (x.get("environment") or "环境好") == "环境差" and not _blank(x.get("environment_reason")),
                         f"{head}：申请人评价办事“环境差”，理由：{e['environment_reason']}，纳入异常办件")
        if not _blank(e.get("other_problem")):
            emit("HN-ESUP-9.9", "evaluations", eid, on, None,
                 f"{head}反馈其他问题：{e['other_problem']}；由电子监察机构判断是否纳入异常办件")
        if appeal is not None and win is not None:
            filed = appeal["filed_on"]
            due = add(on, win)
            if filed > due:
                emit("HN-ESUP-9.10a", "evaluations", eid, filed, None,
                     f"{head}的申诉于{filed}发起，超过判定异常（{on}）后{win}个工作日的申诉期限（{due}），不予受理")
            elif win2 is not None:
                due2 = add(filed, win2)
                if second_ev is None or second_ev["evaluated_on"] > due2:
                    emit("HN-ESUP-9.10b", "evaluations", eid, due2 + ONE, None,
                         f"{head}申诉（{filed}）后{win2}个工作日内（{due2}）未收到二次评价，由电子监察机构视情调查核实")


def _end(d, as_of):
    """A pause's end as the engine reads it: not yet known if after as_of (C7)."""
    return d if d is not None and d <= as_of else None

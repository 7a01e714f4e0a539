"""The default rulebook (积分细则) a village may start from: about twenty rules across the six councils.

Rule names are village data, written as a village would print them; a village edits them freely.
Points are per unit; negative points are deductions under the village covenant (村规民约).
"""

from __future__ import annotations

from typing import Any


def _rule(
    code: str,
    name: str,
    council: str,
    points: int,
    *,
    unit: str = "each",
    monthly_cap: int | None = None,
    needs_review: bool = True,
    notice_days: int = 3,
    approvals_required: int = 1,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "council": council,
        "points": points,
        "unit": unit,
        "monthly_cap": monthly_cap,
        "needs_review": needs_review,
        "notice_days": notice_days,
        "approvals_required": approvals_required,
    }


DEFAULT_RULEBOOK: list[dict[str, Any]] = [
    # 志愿服务: check-ins at an organised activity are the evidence, so they post without review.
    _rule("VOL-EACH", "志愿服务每次", "volunteer", 5, monthly_cap=40, needs_review=False, notice_days=0),
    _rule(
        "VOL-HOUR",
        "志愿服务每小时",
        "volunteer",
        2,
        unit="hour",
        monthly_cap=60,
        needs_review=False,
        notice_days=0,
    ),
    _rule(
        "VOL-CLEAN", "参加村庄环境卫生整治", "volunteer", 5, monthly_cap=20, needs_review=False, notice_days=0
    ),
    _rule("VOL-ELDER", "帮扶孤寡老人、留守儿童", "volunteer", 10, monthly_cap=30),
    _rule("VOL-FLOOD", "参加防汛抗旱、森林防火", "volunteer", 20, monthly_cap=60),
    # 村规民约
    _rule("COV-GARBAGE", "违反村规民约乱倒垃圾扣分", "covenant", -5, notice_days=3),
    _rule("COV-BURN", "焚烧秸秆扣分", "covenant", -10, notice_days=3),
    _rule("COV-BUILD", "违规占地建房扣分", "covenant", -50, notice_days=5, approvals_required=2),
    _rule("COV-COURTYARD", "美丽庭院评比达标", "covenant", 10, monthly_cap=10),
    # 红白理事会
    _rule("WF-WEDDING", "红事新办", "wedding_funeral", 30, notice_days=5, approvals_required=2),
    _rule("WF-FUNERAL", "白事简办", "wedding_funeral", 30, notice_days=5, approvals_required=2),
    _rule("WF-LAVISH", "大操大办、高价彩礼扣分", "wedding_funeral", -30, notice_days=5, approvals_required=2),
    # 村民议事会
    _rule(
        "VC-MEETING",
        "参加村民议事会",
        "villagers_council",
        3,
        monthly_cap=9,
        needs_review=False,
        notice_days=0,
    ),
    _rule("VC-PROPOSAL", "提出被采纳的村务建议", "villagers_council", 10, monthly_cap=20),
    # 道德评议会
    _rule("MR-MOTHER", "道德评议会评选好婆婆", "moral_review", 20, notice_days=7, approvals_required=2),
    _rule("MR-DAUGHTER", "道德评议会评选好媳妇", "moral_review", 20, notice_days=7, approvals_required=2),
    _rule("MR-FAMILY", "评选文明家庭、五好家庭", "moral_review", 30, notice_days=7, approvals_required=2),
    _rule("MR-GOODDEED", "见义勇为、拾金不昧", "moral_review", 20, notice_days=5),
    # 禁毒禁赌会
    _rule("ADG-GAMBLING", "举报赌博线索（查实）", "anti_drug_gambling", 20, notice_days=0),
    _rule("ADG-DRUG", "举报涉毒线索（查实）", "anti_drug_gambling", 30, notice_days=0),
    _rule(
        "ADG-CAMPAIGN",
        "参加禁毒禁赌宣传活动",
        "anti_drug_gambling",
        3,
        monthly_cap=9,
        needs_review=False,
        notice_days=0,
    ),
    _rule(
        "ADG-GAMBLE-DEDUCT", "参与赌博扣分", "anti_drug_gambling", -50, notice_days=3, approvals_required=2
    ),
]

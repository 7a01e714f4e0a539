"""The claims export says in Chinese how each claim came in; `header=keys` keeps the machine codes."""

from __future__ import annotations

import csv
import io

from tests.claims.claim_helpers import claim_id, rule


def _rows(client, world, header: str = "labels") -> list[list[str]]:
    response = client.get(
        f"/api/v1/exports/claims.csv?village_id={world.village}&header={header}", headers=world.h(world.admin)
    )
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_the_source_column_reads_in_chinese(client, world):
    rid = rule(client, world, "SWEEP", points=3)
    claim_id(client, world, rid)  # filed by the villager
    body = {"household_id": world.households[1]["id"], "rule_id": rid}
    assert client.post("/api/v1/claims", json=body, headers=world.h(world.clerk)).status_code == 201
    rows = _rows(client, world)
    column = rows[0].index("来源")
    assert sorted(r[column] for r in rows[1:]) == sorted(["村民申报", "工作人员录入"])
    assert not any(r[column] in ("villager", "clerk", "checkin") for r in rows[1:])
    keyed = _rows(client, world, "keys")
    column = keyed[0].index("source")
    assert sorted(r[column] for r in keyed[1:]) == ["clerk", "villager"]

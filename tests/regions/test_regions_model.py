"""Regions: a county holds townships, a township holds villages."""

from __future__ import annotations

from merit_bank.database import transaction
from merit_bank.extensions import db
from merit_bank.villages.models import Region, Village
from merit_bank.villages.regions import village_ids_in_region
from tests.factories import make_village


def _region(name: str, kind: str, parent_id: int | None = None) -> int:
    with transaction():
        region = Region(name=name, kind=kind, parent_id=parent_id)
        db.session.add(region)
        db.session.flush()
    return region.id


def test_a_county_covers_the_villages_of_its_townships_and_a_township_its_own(app):
    villages = [make_village(app, name=f"村{i}") for i in range(5)]
    with app.app_context():
        county = _region("甲县", "county")
        other_county = _region("乙县", "county")
        a = _region("东镇", "township", county)
        b = _region("西镇", "township", county)
        c = _region("南镇", "township", other_county)
        with transaction():
            for village_id, township in zip(villages, (a, a, b, c, None), strict=True):
                db.session.get(Village, village_id).region_id = township
        assert village_ids_in_region(a) == villages[:2]
        assert village_ids_in_region(b) == villages[2:3]
        assert village_ids_in_region(county) == villages[:3]
        assert village_ids_in_region(other_county) == villages[3:4]
        assert village_ids_in_region(999_999) == []

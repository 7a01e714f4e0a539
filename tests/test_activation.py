"""Villagers on the roster activate their own login with a proof the village handed out, and choose a PIN."""

from __future__ import annotations

from tests.factories import (
    auth,
    csrf_token,
    id_number,
    make_household,
    make_user,
    make_village,
    make_villager,
)

PHONE = "13912340001"


def _household(app, village, phone=PHONE, number=None, **extra):
    members = [{"name": "王建国", "phone": phone, "relation": "户主", "id_number": number}]
    return make_household(app, village, "王建国", members=members, **extra)


def _activate(client, address="127.0.0.5", **body):
    return client.post("/api/v1/auth/activate", json=body, environ_base={"REMOTE_ADDR": address})


def test_a_villager_on_the_roster_activates_with_the_card_code_and_is_signed_in(app, client):
    village = make_village(app)
    household = _household(app, village)
    response = _activate(client, phone=PHONE, pin="246810", card_code=household["code"].lower())
    assert response.status_code == 200, response.json
    assert response.json["user"]["username"] == PHONE
    assert response.json["user"]["role"] == "villager"
    assert response.json["user"]["household_id"] == household["id"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    assert me.status_code == 200
    login = client.post("/api/v1/auth/login", json={"username": PHONE, "password": "246810"})
    assert login.status_code == 200


def test_the_last_six_characters_of_the_id_number_are_a_proof_too(app, client):
    village = make_village(app)
    number = id_number()
    _household(app, village, number=number)
    assert _activate(client, phone=PHONE, pin="246810", id_last6="000000").status_code == 401
    response = _activate(client, phone=PHONE, pin="246810", id_last6=number[-6:])
    assert response.status_code == 200, response.json


def test_a_wrong_proof_and_an_unknown_phone_get_the_same_answer(app, client):
    village = make_village(app)
    household = _household(app, village)
    wrong = _activate(client, phone=PHONE, pin="246810", card_code="ZZZZZZ")
    unknown = _activate(client, phone="13900000000", pin="246810", card_code=household["code"])
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["type"] == unknown.json["type"] == "activation-failed"
    assert wrong.json["detail"] == unknown.json["detail"]


def test_activating_a_second_time_is_409_already_activated(app, client):
    village = make_village(app)
    household = _household(app, village)
    assert _activate(client, phone=PHONE, pin="246810", card_code=household["code"]).status_code == 200
    again = _activate(client, phone=PHONE, pin="135790", card_code=household["code"])
    assert again.status_code == 409
    assert again.json["type"] == "already-activated"
    # The first PIN still holds.
    assert (
        client.post("/api/v1/auth/login", json={"username": PHONE, "password": "246810"}).status_code == 200
    )


def test_a_pin_must_be_six_digits_or_more(app, client):
    village = make_village(app)
    household = _household(app, village)
    response = _activate(client, phone=PHONE, pin="12345a", card_code=household["code"])
    assert response.status_code == 422
    assert "password" in response.json["errors"] or "pin" in response.json["errors"]


def test_a_clerks_activation_code_works_once_for_the_member_it_names(app, client):
    village = make_village(app)
    clerk = make_user(app, "clerk", village)
    household = _household(app, village)
    member = household["member_ids"][0]
    issued = client.post(
        f"/api/v1/households/{household['id']}/members/{member}/activation-code", headers=auth(app, clerk)
    )
    assert issued.status_code == 201, issued.json
    code = issued.json["code"]
    assert len(code) == 8 and issued.json["expires_at"]
    assert _activate(client, phone=PHONE, pin="246810", activation_code=code).status_code == 200
    # Used up: the same code no longer proves anything.
    reused = _activate(client, phone=PHONE, pin="111111", activation_code=code)
    assert reused.status_code == 401


def test_an_activation_code_resets_a_forgotten_pin_and_ends_earlier_sessions(app, client):
    village = make_village(app)
    admin = make_user(app, "admin", village)
    household = _household(app, village)
    make_villager(app, household, username=PHONE)
    old = client.post("/api/v1/auth/login", json={"username": PHONE, "password": "135790"}).json
    member = household["member_ids"][0]
    code = client.post(
        f"/api/v1/households/{household['id']}/members/{member}/activation-code", headers=auth(app, admin)
    ).json["code"]
    reset = _activate(client, phone=PHONE, pin="975310", activation_code=code)
    assert reset.status_code == 200, reset.json
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {old['access_token']}"}).status_code
        == 401
    )
    assert (
        client.post("/api/v1/auth/login", json={"username": PHONE, "password": "975310"}).status_code == 200
    )


def test_an_expired_activation_code_is_refused(app, client):
    village = make_village(app)
    clerk = make_user(app, "clerk", village)
    household = _household(app, village)
    app.config["ACTIVATION_CODE_DAYS"] = 0
    code = client.post(
        f"/api/v1/households/{household['id']}/members/{household['member_ids'][0]}/activation-code",
        headers=auth(app, clerk),
    ).json["code"]
    assert _activate(client, phone=PHONE, pin="246810", activation_code=code).status_code == 401


def test_only_the_villages_clerks_and_admins_hand_out_activation_codes(app, client):
    village, elsewhere = make_village(app), make_village(app)
    household = _household(app, village)
    path = f"/api/v1/households/{household['id']}/members/{household['member_ids'][0]}/activation-code"
    other_clerk = make_user(app, "clerk", elsewhere)
    assert client.post(path, headers=auth(app, other_clerk)).status_code == 404
    neighbour = make_villager(app, _household(app, village, phone="13912340002"))
    assert client.post(path, headers=auth(app, neighbour)).status_code in (403, 404)


def test_activation_is_throttled_per_address_and_per_phone(app, client):
    village = make_village(app)
    _household(app, village)
    statuses = [
        _activate(client, "127.0.0.7", phone=f"1380000{i:04d}", pin="246810", card_code="ZZZZZZ").status_code
        for i in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    app.config["LOGIN_ACCOUNT_MAX_PER_DAY"] = 3
    for i in range(3):
        assert (
            _activate(client, f"127.0.1.{i + 1}", phone=PHONE, pin="246810", card_code="ZZZZZZ").status_code
            == 401
        )
    # Past the phone's day bound even the right proof waits: activation has no second proof to offer.
    assert _activate(client, "127.0.2.1", phone=PHONE, pin="246810", card_code="ZZZZZZ").status_code == 429


def test_a_card_code_shared_by_two_members_with_one_phone_activates_neither(app, client):
    village = make_village(app)
    members = [
        {"name": "王建国", "phone": PHONE, "relation": "户主"},
        {"name": "王小明", "phone": PHONE, "relation": "儿子"},
    ]
    household = make_household(app, village, "王建国", members=members)
    response = _activate(client, phone=PHONE, pin="246810", card_code=household["code"])
    assert response.status_code == 401


def test_the_activation_page_signs_a_villager_in_and_explains_a_mistake_in_chinese(app):
    village = make_village(app)
    household = _household(app, village)
    browser = app.test_client()
    form = {
        "csrf_token": csrf_token(browser, "/activate"),
        "phone": PHONE,
        "proof_kind": "card_code",
        "proof": household["code"],
        "pin": "246810",
        "pin_again": "246811",
    }
    refused = browser.post("/activate", data=form)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "两次输入的 PIN 不一样" in html
    assert f'value="{PHONE}"' in html and f'value="{household["code"]}"' in html
    done = browser.post("/activate?next=/", data={**form, "pin_again": "246810"})
    assert done.status_code == 302
    assert "王建国" in browser.get("/").get_data(as_text=True)
    assert "/activate" in browser.get("/login").get_data(as_text=True)


def test_the_clerks_page_counts_activations_per_group_and_prints_a_code_shown_once(app):
    village = make_village(app)
    make_user(app, "clerk", village, username="wenshu")
    first = _household(app, village, group="一组")
    _household(app, village, phone="13912340002", group="二组")
    make_villager(app, first, username=PHONE)
    browser = app.test_client()
    from tests.factories import PASSWORD, page_login

    page_login(browser, "wenshu", PASSWORD)
    html = browser.get("/admin/activation").get_data(as_text=True)
    counts = html.split('data-testid="group-counts"')[1].split("</table>")[0]
    assert "<td>一组</td><td>1</td><td>1</td><td>1</td>" in counts
    assert "<td>二组</td><td>1</td><td>1</td><td>0</td>" in counts
    second = next(m for m in _members(app, village) if m["phone"] == "13912340002")
    printed = browser.post(
        "/admin/activation",
        data={
            "csrf_token": csrf_token(browser, "/admin/activation"),
            "household_id": second["household_id"],
            "member_id": second["id"],
        },
    )
    assert printed.status_code == 200
    shown = printed.get_data(as_text=True)
    code = shown.split('data-testid="issued-code"')[1].split('class="balance">')[1].split("<")[0]
    assert len(code) == 8
    assert code not in browser.get("/admin/activation").get_data(as_text=True)
    client = app.test_client()
    assert _activate(client, phone="13912340002", pin="246810", activation_code=code).status_code == 200


def _members(app, village):
    from merit_bank.extensions import db
    from merit_bank.households.models import Household, Member

    with app.app_context():
        rows = db.session.execute(
            db.select(Member.id, Member.phone, Member.household_id)
            .join(Household)
            .where(Household.village_id == village)
        ).all()
        return [{"id": r[0], "phone": r[1], "household_id": r[2]} for r in rows]
